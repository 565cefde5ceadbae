"""The ONNX Runtime runtime: stage graphs exported from our model match eager, cached by model key."""

from __future__ import annotations

import numpy as np
import pytest

import sonorant
from sonorant.engine import Engine, Utterance
from sonorant.engine.streaming import MIN_SPLIT_CORE
from sonorant.runtimes import EagerRuntime, make_runtime
from sonorant.runtimes.cache import LazyModel
from sonorant.voices.piper import load_piper_model
from sonorant.voices.piper_loader import model_source

pytest.importorskip("onnxruntime")

from sonorant.runtimes.onnx import OnnxRuntime  # noqa: E402


def _snr_db(ref: np.ndarray, test: np.ndarray) -> float:
    err = float(np.sum((ref - test) ** 2))
    return float("inf") if err == 0 else 10 * np.log10(float(np.sum(ref**2)) / err)


@pytest.fixture(scope="module")
def joe_onnx(joe: sonorant.Voice, tmp_path_factory: pytest.TempPathFactory) -> OnnxRuntime:
    return OnnxRuntime(joe.model, cache_dir=tmp_path_factory.mktemp("onnx-cache"))


def test_onnx_runtime_matches_eager_on_joe(joe: sonorant.Voice, joe_onnx: OnnxRuntime) -> None:
    runtime = joe_onnx
    texts = ["The quick brown fox jumps over the lazy dog.", "Is this thing on?", "Numbers like seven hundred work."]
    cfg = joe.resolve(sonorant.SynthesisConfig(seed=4))
    utts = [Utterance(tuple(joe.phoneme_ids(t)[0]), 4 + i, cfg.knobs)
            for i, t in enumerate(texts)]
    eager = Engine(EagerRuntime(joe.model)).synthesize(utts, max_batch=3)
    onnx = Engine(runtime).synthesize(utts, max_batch=3)
    snrs = [_snr_db(a, b) for a, b in zip(eager, onnx)]
    assert all(len(a) == len(b) for a, b in zip(eager, onnx))
    assert min(snrs) >= 60.0, snrs


@pytest.mark.parametrize("rows", [2, 3, 4])
def test_decoder_passes_split_across_threads_give_the_same_audio(joe: sonorant.Voice, joe_onnx: OnnxRuntime,
                                                                 monkeypatch: pytest.MonkeyPatch, rows: int) -> None:
    """A pass with fewer rows than `decode_rows` is cut into sub-windows; the audio stays the same."""
    text = "A sentence long enough to be cut into several windows, so that every thread gets a row of its own."
    cfg = joe.resolve(sonorant.SynthesisConfig(seed=9))
    utt = Utterance(tuple(joe.phoneme_ids(text)[0]), 9, cfg.knobs)
    engine = Engine(joe_onnx)
    monkeypatch.setattr(joe_onnx, "decode_rows", 1)
    (whole,) = engine.synthesize([utt])
    calls: list[int] = []
    vocode = joe_onnx.vocode
    monkeypatch.setattr(joe_onnx, "vocode", lambda z, frames, g: calls.append(z.shape[0]) or vocode(z, frames, g))
    monkeypatch.setattr(joe_onnx, "decode_rows", rows)
    (split,) = engine.synthesize([utt])
    assert len(whole) >= 4 * MIN_SPLIT_CORE * joe.model.hop_length  # long enough for every split asked for
    assert calls == [rows], "the pass was not split into one row per thread"
    assert len(split) == len(whole) and float(np.max(np.abs(split - whole))) <= 1e-4
    assert _snr_db(whole, split) >= 80.0


def test_onnx_runtime_multi_speaker_and_cache_key(tiny_multi_speaker_voice, tmp_path) -> None:  # noqa: ANN001
    model = load_piper_model(tiny_multi_speaker_voice.onnx_path)
    runtime = OnnxRuntime(model, cache_dir=tmp_path)
    assert len(list(tmp_path.iterdir())) == 1 and (runtime.directory / "vocode.onnx").is_file()
    eager = Engine(EagerRuntime(model))
    onnx = Engine(runtime)
    for speaker in (0, 1, 2):
        utt = Utterance((1, 0, 5, 0, 9, 0, 12, 0, 2), 7, (1.0, 0.667, 0.8), speaker)
        (a,), (b,) = eager.synthesize([utt]), onnx.synthesize([utt])
        assert len(a) == len(b) and _snr_db(a, b) >= 60.0
    again = OnnxRuntime(model, cache_dir=tmp_path)  # reuses the cached graphs
    assert len(list(tmp_path.iterdir())) == 1 and again.directory == runtime.directory
    with pytest.raises(sonorant.ConfigError):
        make_runtime("no-such-runtime", model)


# --- the cache: keyed by the voice file, repaired when damaged, enough to run without torch ------------


def _lazy(voice) -> LazyModel:  # noqa: ANN001
    return model_source(voice.onnx_path)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "delete", "description"])
def test_a_damaged_cache_entry_is_rebuilt(tiny_x_low_voice, tmp_path, caplog, damage: str) -> None:  # noqa: ANN001
    first = OnnxRuntime(_lazy(tiny_x_low_voice), cache_dir=tmp_path)
    utt = Utterance((1, 0, 5, 0, 9, 0, 12, 0, 2), 3, (1.0, 0.667, 0.8))
    (before,) = Engine(first).synthesize([utt])
    graph = first.directory / "vocode_full.onnx"
    if damage == "truncate":
        graph.write_bytes(graph.read_bytes()[:1000])
    elif damage == "garbage":
        graph.write_bytes(b"not an onnx model at all" * 100)
    elif damage == "delete":
        graph.unlink()
    else:
        (first.directory / "stages.json").write_text("{ broken", encoding="utf-8")
    with caplog.at_level("WARNING", logger="sonorant.runtimes.onnx"):
        again = OnnxRuntime(_lazy(tiny_x_low_voice), cache_dir=tmp_path)
        (after,) = Engine(again).synthesize([utt])
    assert again.directory == first.directory and "export" in caplog.text
    assert len(after) == len(before) and float(np.max(np.abs(after - before))) <= 1e-5
    third = OnnxRuntime(_lazy(tiny_x_low_voice), cache_dir=tmp_path)  # repaired for good: loads quietly
    assert third.spec == first.spec


def test_a_cached_voice_runs_without_torch(tiny_x_low_voice, tmp_path) -> None:  # noqa: ANN001
    """Once its graphs are cached, the default CPU path never imports torch nor reads the voice's weights."""
    import subprocess
    import sys

    code = (
        "import sys, sonorant\n"
        f"v = sonorant.load_voice({str(tiny_x_low_voice.onnx_path)!r}, device='cpu', "
        f"runtime_options={{'cache_dir': {str(tmp_path)!r}}})\n"
        "a = v.synthesize('Hello there.', sonorant.SynthesisConfig(seed=1))\n"
        "print(v.runtime.name, len(a.samples), 'torch' in sys.modules)\n"
    )
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), [r.stderr[-2000:] for r in runs]
    first, second = (r.stdout.split() for r in runs)
    assert first[0] == second[0] == "onnx" and first[1] == second[1] and int(first[1]) > 0
    assert first[2] == "True" and second[2] == "False", "the second process should find the graphs and skip torch"


# --- execution providers --------------------------------------------------------------------------

from sonorant.runtimes.onnx import _tensorrt_ep_options, select_providers  # noqa: E402
from sonorant.runtimes.onnx_export import export_stages  # noqa: E402

_ALL = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]


def test_provider_selection_falls_back_with_a_warning(caplog) -> None:  # noqa: ANN001
    cpu_only = ["CPUExecutionProvider"]
    with caplog.at_level("WARNING", logger="sonorant.runtimes.onnx"):
        chosen = select_providers(["tensorrt", ("cuda", {"device_id": 1})], cpu_only, _ALL)
    assert chosen == [("CPUExecutionProvider", {})]
    assert "TensorrtExecutionProvider is not available" in caplog.text and "CUDAExecutionProvider" in caplog.text
    both = [("CUDAExecutionProvider", {}), ("CPUExecutionProvider", {})]
    assert select_providers(["cuda", "cpu"], _ALL, _ALL) == both
    assert select_providers([("cuda", {"device_id": 1})], _ALL, _ALL)[0] == ("CUDAExecutionProvider", {"device_id": 1})
    with pytest.raises(sonorant.ConfigError, match="not available"):
        select_providers(["cuda"], cpu_only, _ALL, strict=True)
    with pytest.raises(sonorant.ConfigError, match="unknown ONNX Runtime execution provider 'cdua'"):
        select_providers(["cdua"], _ALL, _ALL)


def test_onnx_runtime_asked_for_cuda_runs_on_the_cpu_and_says_so(tiny_x_low_voice, tmp_path, caplog) -> None:  # noqa: ANN001
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    model = tiny_x_low_voice.model
    with caplog.at_level("WARNING", logger="sonorant.runtimes.onnx"):
        runtime = OnnxRuntime(model, cache_dir=tmp_path, providers=["cuda", "cpu"])
    assert runtime.active_providers == ["CPUExecutionProvider"] and "falling back" in caplog.text
    utt = Utterance((1, 0, 5, 0, 9, 0, 2), 3, (1.0, 0.667, 0.8))
    (a,), (b,) = Engine(EagerRuntime(model)).synthesize([utt]), Engine(runtime).synthesize([utt])
    assert _snr_db(a, b) >= 60.0
    with pytest.raises(sonorant.ConfigError, match="not available"):
        OnnxRuntime(model, cache_dir=tmp_path, providers=["cuda"], strict_providers=True)
    with pytest.raises(sonorant.ConfigError, match="TensorRT provider"):
        OnnxRuntime(model, cache_dir=tmp_path, precision="fp16")


def test_tensorrt_provider_options_span_the_buckets(tiny_multi_speaker_voice, tmp_path) -> None:  # noqa: ANN001
    model = tiny_multi_speaker_voice.model
    paths = export_stages(model, tmp_path)
    buckets = sonorant.BucketConfig(id_edges=(32, 64), frame_edges=(64, 128, 256), max_batch=4)
    enc = _tensorrt_ep_options("encode", paths["encode"], tmp_path, buckets, model.spec, "fp16")
    assert enc["trt_fp16_enable"] is False  # only the decoder runs in reduced precision
    assert enc["trt_engine_cache_enable"] and (tmp_path / "tensorrt").is_dir()
    shapes = {k: dict(item.split(":") for item in enc[k].split(",")) for k in
              ("trt_profile_min_shapes", "trt_profile_opt_shapes", "trt_profile_max_shapes")}
    assert shapes["trt_profile_min_shapes"]["ids"] == "1x1" and shapes["trt_profile_max_shapes"]["ids"] == "4x256"
    assert shapes["trt_profile_opt_shapes"]["ids"] == "4x64" and shapes["trt_profile_max_shapes"]["sid"] == "4"
    full = _tensorrt_ep_options("vocode_full", paths["vocode_full"], tmp_path, buckets, model.spec, "fp16")
    assert full["trt_fp16_enable"] is True and "frames" not in full["trt_profile_max_shapes"]
    assert "z:4x32x1024" in full["trt_profile_max_shapes"] and "g:4x16x1" in full["trt_profile_max_shapes"]
