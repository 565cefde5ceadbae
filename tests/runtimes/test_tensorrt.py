"""The TensorRT runtime: profiles from buckets, the ONNX it builds from, cache keys and the clear error
without TensorRT / CUDA run everywhere; building and running engines needs a GPU (marked `gpu`)."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_voices import TinyVoice, sample_ids, snr_db

import sonorant
from sonorant.engine import BucketConfig, Engine, Utterance
from sonorant.models.vits import VitsConfig
from sonorant.models.vits.spec import vits_spec
from sonorant.runtimes import EagerRuntime, make_runtime
from sonorant.runtimes.cache import make_key
from sonorant.runtimes.tensorrt import Profile, default_window_sizes, engine_cache_fields, stage_profiles

BUCKETS = BucketConfig(id_edges=(32, 64), frame_edges=(64, 128, 256), max_batch=4)
HAVE_TRT = importlib.util.find_spec("tensorrt") is not None and torch.cuda.is_available()


def _profile_exact(profiles: list[Profile], shapes: dict[str, tuple[int, ...]]) -> list[Profile]:
    return [p for p in profiles if p.covers(shapes) and all(shapes.get(n, o) == o for n, _, o, _ in p.shapes)]


@pytest.mark.parametrize("multi", [False, True])
def test_profiles_match_the_buckets(multi: bool) -> None:
    cfg = VitsConfig(n_vocab=256, inter_channels=32, n_speakers=3 if multi else 1, gin_channels=16 if multi else 0)
    windows = (40, 56)
    profiles = stage_profiles(vits_spec(cfg), BUCKETS, (1, 2, 4), windows, overflow=4)
    assert [len(profiles[s]) for s in ("encode", "frames", "vocode")] == [3, 4, 4 + len(windows)]
    for stage, ps in profiles.items():
        for p in ps:
            for name, lo, opt, hi in p.shapes:
                assert len(lo) == len(opt) == len(hi), (stage, name)
                assert all(a <= o <= b for a, o, b in zip(lo, opt, hi)), (stage, name)
        names = {n for p in ps for n, *_ in p.shapes}
        assert ("sid" in names or "g" in names) == multi
    # Every padded shape the engine can send has exactly one profile tuned for it (opt == shape) ...
    for b in (1, 2, 4):
        for e in BUCKETS.id_edges:
            assert len(_profile_exact(profiles["encode"], {"ids": (b, e), "noise": (b, 2, e)})) == (b == 4)
            assert any(p.covers({"ids": (b, e), "noise": (b, 2, e)}) for p in profiles["encode"])
        for e in BUCKETS.frame_edges:
            shapes = {"z": (b, 32, e), "lengths": (b,)}
            assert any(p.covers(shapes) for p in profiles["vocode"])
            assert any(p.covers({"noise": (b, 32, e), "mask": (b, 1, e), "tokens": (b, 64, 17)}) for p in profiles["frames"])
    for w in windows:
        exact = _profile_exact(profiles["vocode"], {"z": (1, 32, w), "lengths": (1,)})
        assert [p.label for p in exact] == [f"window {w}"]
    # ... and the profiles leave no gap from 1 to `overflow` x the last edge, and nothing beyond.
    for n in range(1, 4 * 64 + 1):
        assert any(p.covers({"ids": (1, n)}) for p in profiles["encode"]), n
    assert not any(p.covers({"ids": (1, 4 * 64 + 1)}) for p in profiles["encode"])
    assert not any(p.covers({"ids": (5, 32)}) for p in profiles["encode"])  # batch above the largest size
    with pytest.raises(sonorant.ConfigError):
        stage_profiles(vits_spec(cfg), BUCKETS, ())


def test_profile_inputs_are_the_exported_graphs_inputs(tiny_multi_speaker_voice: TinyVoice, tmp_path) -> None:  # noqa: ANN001
    """The engines are built from `export_stages`' graphs: every profiled input exists there, every axis
    a profile varies is dynamic in the graph, every fixed axis matches, and the graphs run at the
    profiles' smallest and largest shapes."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from sonorant.runtimes.onnx_export import export_stages

    model = tiny_multi_speaker_voice.model
    paths = export_stages(model, tmp_path)
    profiles = stage_profiles(model.spec, BUCKETS, (1, 2), default_window_sizes(model.spec, BUCKETS))
    for stage, ps in profiles.items():
        graph = onnx.load(str(paths[stage])).graph
        inputs = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.input}
        for p in ps:
            assert {n for n, *_ in p.shapes} == set(inputs), stage
            for name, lo, _, hi in p.shapes:
                for axis, (a, b) in enumerate(zip(lo, hi)):
                    dim = inputs[name][axis]
                    if a != b:  # the profile varies this axis: the graph must leave it dynamic
                        assert isinstance(dim, str), (stage, name, axis, dim)
                    else:  # fixed in the profile: dynamic in the graph, or the same size
                        assert isinstance(dim, str) or dim == a, (stage, name, axis, dim)
    # Run encode at the smallest and the largest phoneme count the profiles allow.
    session = ort.InferenceSession(str(paths["encode"]), providers=["CPUExecutionProvider"])
    for n in (profiles["encode"][0].shapes[0][1][1], profiles["encode"][-1].shapes[0][3][1]):
        ids = np.array([sample_ids(n, 3)[:n]], dtype=np.int64)
        feeds = {"ids": ids, "lengths": np.array([n]), "knobs": np.array([[1.0, 0.0, 0.0]], np.float32),
                 "noise": np.zeros((1, 2, n), np.float32), "sid": np.array([1])}
        tokens, durations, frames, _ = session.run(None, feeds)
        with torch.no_grad():
            ref = model.encode(torch.from_numpy(ids), torch.tensor([n]), torch.zeros(1), torch.ones(1),
                               torch.zeros(1, 2, n), torch.tensor([1]))
        assert tokens.shape == (1, 2 * model.cfg.inter_channels, n)
        np.testing.assert_array_equal(durations, ref.durations.numpy())
        assert int(frames[0]) == int(ref.frames[0])


def test_engine_cache_key_depends_on_model_profiles_precision_and_device(tiny_piper_voices) -> None:  # noqa: ANN001
    x_low, multi = tiny_piper_voices["x_low"].model, tiny_piper_voices["multi"].model
    device = {"name": "NVIDIA H100", "capability": "9.0"}

    def key(model, buckets=BUCKETS, precision="fp16", dev=device, trt="10.9.0"):  # noqa: ANN001, ANN202
        return make_key(engine_cache_fields(model, stage_profiles(model.spec, buckets, (1,), ()), precision,
                                            ("encode",), dev, trt))

    base = key(x_low)
    assert base == key(x_low)  # deterministic
    variants = [key(multi), key(x_low, buckets=dataclasses.replace(BUCKETS, frame_edges=(64, 512))),
                key(x_low, precision="fp32"), key(x_low, dev={"name": "NVIDIA A10", "capability": "8.6"}),
                key(x_low, trt="10.10.0")]
    assert base not in variants and len(set(variants)) == len(variants)
    retrained = type(x_low)(x_low.cfg)
    retrained.load_state_dict(x_low.state_dict())
    with torch.no_grad():
        retrained.dec.conv_post.weight.mul_(1.001)
    assert key(retrained) != base


@pytest.mark.skipif(HAVE_TRT, reason="TensorRT and CUDA are present here")
def test_tensorrt_runtime_without_tensorrt_or_cuda_is_a_clear_error(tiny_x_low_voice: TinyVoice) -> None:
    with pytest.raises(sonorant.ConfigError, match="(?i)tensorrt|cuda"):
        make_runtime("tensorrt", tiny_x_low_voice.model)
    with pytest.raises(sonorant.ConfigError, match="precision"):
        make_runtime("tensorrt", tiny_x_low_voice.model, precision="int3")


# --- on a GPU with TensorRT ------------------------------------------------------------------------


def _utterances(n: int, speakers: int = 1, noise: bool = False) -> list[Utterance]:
    return [Utterance(tuple(sample_ids(4 + 2 * k, 100 + k)), 100 + k, (1.0, 0.667 * noise, 0.8 * noise),
                      (k % speakers) if speakers > 1 else None) for k in range(n)]


@pytest.mark.gpu
@pytest.mark.skipif(not HAVE_TRT, reason="needs TensorRT and a CUDA GPU")
def test_tensorrt_fp32_matches_eager_and_reuses_its_engines(tiny_multi_speaker_voice: TinyVoice, tmp_path) -> None:  # noqa: ANN001
    from sonorant.runtimes.tensorrt import TensorRTRuntime

    model = tiny_multi_speaker_voice.model
    rt = TensorRTRuntime(model, buckets=BUCKETS, batch_sizes=(1, 2), precision="fp32", cache_dir=tmp_path)
    engine = Engine(rt, BUCKETS)
    engine.warmup((1, 2))
    utts = _utterances(12, speakers=3, noise=True)
    ref = Engine(EagerRuntime(model)).synthesize(utts, max_batch=2)
    out = engine.synthesize(utts, max_batch=2)
    snrs = [snr_db(a, b) for a, b in zip(ref, out)]
    assert all(len(a) == len(b) for a, b in zip(ref, out)) and min(snrs) >= 60.0, snrs
    plans = {p: p.stat().st_mtime_ns for p in rt.cache.path.glob("*.plan")}
    assert len(plans) == 3
    again = TensorRTRuntime(model, buckets=BUCKETS, batch_sizes=(1, 2), precision="fp32", cache_dir=tmp_path)
    assert again.cache.path == rt.cache.path and {p: p.stat().st_mtime_ns for p in plans} == plans
    next(iter(plans)).write_bytes(b"not an engine")  # a corrupt plan is rebuilt, not used
    rebuilt = TensorRTRuntime(model, buckets=BUCKETS, batch_sizes=(1, 2), precision="fp32", cache_dir=tmp_path)
    (a,), (b,) = Engine(rebuilt, BUCKETS).synthesize(utts[:1]), ref[:1]
    assert snr_db(b, a) >= 60.0


@pytest.mark.gpu
@pytest.mark.skipif(not HAVE_TRT, reason="needs TensorRT and a CUDA GPU")
def test_tensorrt_fp16_on_joe_keeps_30_db(joe: sonorant.Voice, tmp_path) -> None:  # noqa: ANN001
    from sonorant.runtimes.tensorrt import TensorRTRuntime

    buckets = BucketConfig(id_edges=(64, 128, 256), frame_edges=(256, 512, 1024), max_batch=4)
    rt = TensorRTRuntime(joe.model, buckets=buckets, precision="fp16", cache_dir=tmp_path)
    cfg = joe.resolve(sonorant.SynthesisConfig(knobs={"noise_scale": 0.0, "noise_w": 0.0}, seed=1))
    texts = ["The quick brown fox jumps over the lazy dog.", "Is this thing on?", "It costs three dollars."]
    utts = [Utterance(tuple(joe.phoneme_ids(t)[0]), 1, cfg.knobs) for t in texts]
    ref = Engine(EagerRuntime(joe.model)).synthesize(utts)
    out = Engine(rt, buckets).synthesize(utts, max_batch=4)
    snrs = [snr_db(a, b) for a, b in zip(ref, out)]
    assert all(len(a) == len(b) for a, b in zip(ref, out)) and min(snrs) >= 30.0, snrs


def test_autoregressive_profiles_cover_the_decode_graph(tmp_path) -> None:  # noqa: ANN001
    """Tacotron2's engines: a decode profile per id bucket (state sizes fixed, the id axis varying), and every
    input of the exported graphs (which may drop unused ones: TensorRT profiles only those present) profiled
    with matching fixed axes."""
    onnx = pytest.importorskip("onnx")
    from sonorant.runtimes.onnx_export import export_stages
    from sonorant.voices.nvidia import load_tacotron2_voice

    dle = Path(__file__).parent.parent / "fixtures" / "tacotron2"
    model = load_tacotron2_voice(dle / "tacotron2_tiny.pt", dle / "waveglow_tiny.pt", block=4)
    spec = model.spec
    paths = export_stages(model, tmp_path)
    profiles = stage_profiles(spec, BUCKETS, (1, 2), default_window_sizes(spec, BUCKETS))
    assert set(profiles) == {"encode", "decode", "frames", "vocode"}
    assert len(profiles["decode"]) == len(profiles["encode"]) == len(BUCKETS.id_edges) + 1
    for stage, ps in profiles.items():
        graph = onnx.load(str(paths[stage])).graph
        inputs = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.input}
        for p in ps:
            profiled = {n: (lo, hi) for n, lo, _, hi in p.shapes}
            assert set(inputs) <= set(profiled), (stage, set(inputs) - set(profiled))
            for name, dims in inputs.items():
                lo, hi = profiled[name]
                assert len(dims) == len(lo), (stage, name)
                for dim, a, b in zip(dims, lo, hi):
                    assert isinstance(dim, str) or dim == a == b, (stage, name, dims, lo, hi)
    state = dict((n, (lo, hi)) for n, lo, _, hi in profiles["decode"][0].shapes)
    assert state["state"][0][1] == spec.decoder.state_channels and state["noise"][1][2] == spec.decoder.block
