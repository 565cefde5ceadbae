"""Devices and runtimes: "auto" picks the fastest runtime for the device, unknown or missing devices are a
clear `ConfigError`, and on a CUDA GPU (tests marked gpu) the audio matches the CPU's with identical
lengths, batched equals single, and the strict-fp32 scope holds whatever TF32 flags the user set."""

from __future__ import annotations

import numpy as np
import pytest

import sonorant
from sonorant import devices
from sonorant.engine import Engine, Utterance

SENTENCES = ["The quick brown fox jumps over the lazy dog.", "Is this thing on?",
             "Batching must never change what an utterance sounds like, whatever its neighbours are.",
             "Seven sisters sewed seven silk sails."]


def _snr_db(ref: np.ndarray, test: np.ndarray) -> float:
    err = float(np.sum((ref - test) ** 2))
    return float("inf") if err == 0 else 10 * np.log10(float(np.sum(ref**2)) / err)


def _utterances(voice: sonorant.Voice, seed: int = 21) -> list[Utterance]:
    cfg = voice.resolve(sonorant.SynthesisConfig(seed=seed))
    return [Utterance(tuple(voice.phoneme_ids(s)[0]), seed + i, cfg.knobs)
            for i, s in enumerate(SENTENCES)]


# --- resolution (any machine) ---------------------------------------------------------------------------


def test_auto_runs_onnx_on_a_cpu_without_importing_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devices, "cuda_count", lambda: 0)
    assert devices.resolve("auto", "auto") == ("cpu", "onnx")
    assert devices.resolve(None, None) == ("cpu", "onnx")
    assert devices.resolve("cpu", "eager") == ("cpu", "eager")
    assert devices.resolve("auto", "compile") == ("cpu", "compile")
    assert devices.resolve("CPU", "onnx") == ("cpu", "onnx")


def test_auto_prefers_the_gpu_and_its_compiled_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devices, "cuda_count", lambda: 2)
    assert devices.resolve("auto", "auto") == ("cuda:0", "compile")
    assert devices.resolve("cuda:1", "eager") == ("cuda:1", "eager")
    assert devices.resolve("cuda", "auto") == ("cuda:0", "compile")
    assert devices.resolve("auto", "onnx") == ("cpu", "onnx")  # ONNX Runtime's natural device
    with pytest.raises(sonorant.ConfigError, match=r"'cuda:7' does not exist: this machine has 2 CUDA GPUs \(cuda:0, cuda:1\)"):
        devices.resolve("cuda:7", "auto")


@pytest.mark.parametrize("device, runtime, message", [
    ("gpu", "auto", "unknown device 'gpu': use one of auto, cpu, cuda, cuda:N, xla"),
    ("cpu", "tensorrt", "runtime 'tensorrt' does not run on device 'cpu'"),
    ("cpu", "xla", "runtime 'xla' does not run on device 'cpu'"),
    ("cpu", "nonsense", "unknown runtime 'nonsense'"),
])
def test_bad_devices_and_runtimes_are_config_errors(device: str, runtime: str, message: str) -> None:
    with pytest.raises(sonorant.ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        devices.resolve(device, runtime)


def test_cuda_without_cuda_names_what_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devices, "cuda_count", lambda: 0)
    with pytest.raises(sonorant.ConfigError, match="device 'cuda' is not available: .*; available: cpu"):
        devices.resolve("cuda", "auto")
    with pytest.raises(sonorant.ConfigError, match="not available"):
        sonorant.load_voice(device="cuda:0")


def test_load_voice_and_the_cli_take_a_device(tmp_path, capsys) -> None:  # noqa: ANN001
    from sonorant.__main__ import main

    voice = sonorant.load_voice(device="cpu", runtime="eager")
    assert voice.device == "cpu" and voice.runtime.name == "eager"
    assert main(["speak", "Hi.", "-o", str(tmp_path / "a.wav"), "--device", "cpu", "--runtime", "eager"]) == 0
    assert main(["speak", "Hi.", "-o", str(tmp_path / "b.wav"), "--device", "tpu"]) == 2
    assert "unknown device 'tpu'" in capsys.readouterr().err
    with pytest.raises(sonorant.ConfigError, match="device given twice"):
        sonorant.load_voice(device="cpu", runtime="eager", runtime_options={"device": "cuda"})


def test_default_voice_is_onnx_on_this_cpu(joe: sonorant.Voice) -> None:
    if devices.cuda_count() > 0:
        pytest.skip("a CUDA GPU is present: auto picks it")
    assert (joe.runtime.name, joe.device) == ("onnx", "cpu")


# --- on a CUDA GPU ----------------------------------------------------------------------------------------


def _cuda() -> None:
    if devices.cuda_count() == 0:
        pytest.skip("needs a CUDA GPU")


@pytest.mark.gpu
@pytest.mark.parametrize("runtime", ["eager", "compile"])
def test_cuda_matches_the_cpu_with_identical_lengths(joe: sonorant.Voice, runtime: str) -> None:
    _cuda()
    from sonorant.runtimes import EagerRuntime, make_runtime

    utts = _utterances(joe)
    cpu = Engine(EagerRuntime(joe.model)).synthesize(utts, max_batch=1)
    gpu_engine = Engine(make_runtime(runtime, _copy(joe.model), device="cuda:0"))
    gpu = gpu_engine.synthesize(utts, max_batch=len(utts))
    assert [len(a) for a in gpu] == [len(a) for a in cpu]
    snrs = [_snr_db(a, b) for a, b in zip(cpu, gpu)]
    assert min(snrs) >= 60.0, snrs


@pytest.mark.gpu
@pytest.mark.parametrize("runtime", ["eager", "compile"])
def test_cuda_batched_equals_single_under_user_tf32(joe: sonorant.Voice, runtime: str) -> None:
    """The user turned TF32 on everywhere; lengths still never depend on the batch, and the flags come
    back as the user set them."""
    _cuda()
    import torch

    from sonorant.runtimes import make_runtime

    torch.backends.cuda.matmul.fp32_precision = "tf32"
    torch.backends.cudnn.conv.fp32_precision = "tf32"
    try:
        engine = Engine(make_runtime(runtime, _copy(joe.model), device="cuda:0"))
        utts = _utterances(joe, seed=33)
        batched = engine.synthesize(utts, max_batch=len(utts))
        single = [engine.synthesize([u])[0] for u in utts]
        assert [len(a) for a in batched] == [len(a) for a in single]
        assert max(float(np.max(np.abs(a - b))) for a, b in zip(batched, single)) <= 1e-4
        assert torch.backends.cuda.matmul.fp32_precision == "tf32"
        assert torch.backends.cudnn.conv.fp32_precision == "tf32"
    finally:
        torch.backends.cuda.matmul.fp32_precision = "none"
        torch.backends.cudnn.conv.fp32_precision = "tf32"


@pytest.mark.gpu
def test_cuda_streams_through_the_scheduler_equal_whole_synthesis(joe: sonorant.Voice) -> None:
    _cuda()
    from sonorant.bench.modes import concurrent_streams

    voice = sonorant.load_voice(device="cuda:0", runtime="eager")
    result = concurrent_streams(voice, SENTENCES, 8, cfg=sonorant.SynthesisConfig(seed=5))
    assert result.streams == 8 and result.audio_seconds > 8 and result.first_audio_ms_p99 > 0
    text = SENTENCES[2]
    cfg = sonorant.SynthesisConfig(seed=9)
    whole = voice.synthesize(text, cfg).samples
    streamed = np.concatenate([c.samples for c in voice.stream(text, cfg)])
    assert len(streamed) == len(whole) and float(np.max(np.abs(streamed - whole))) <= 1e-4


def _copy(model):  # noqa: ANN001, ANN202
    import copy

    return copy.deepcopy(model)
