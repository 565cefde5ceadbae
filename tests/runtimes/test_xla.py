"""The PyTorch/XLA runtime: parity with eager, zero compilations after warm-up, no CPU fallbacks.

These tests need torch-xla (with the torch it was built for) and run in the XLA CI lane
(`.ci/xla-lane`, PJRT_DEVICE=CPU); in an environment without torch-xla they are skipped, and only
the test that the runtime then fails with a clear ConfigError runs.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

import sonorant
from sonorant.engine import BucketConfig, Engine, StreamConfig, Utterance
from sonorant.runtimes import EagerRuntime, make_runtime
from sonorant.voices.piper import load_piper_model
from tiny_voices import sample_ids, snr_db

HAVE_XLA = importlib.util.find_spec("torch_xla") is not None
needs_xla = pytest.mark.skipif(not HAVE_XLA,
                               reason="torch-xla is not installed (the XLA lane, .ci/xla-lane, runs these)")

NOISE_OFF = sonorant.SynthesisConfig(knobs={"noise_scale": 0.0, "noise_w": 0.0}, seed=1)
JOE_BUCKETS = BucketConfig(id_edges=(64, 256), frame_edges=(128, 256, 512), max_batch=4)
"""Fewer buckets than the default keep the lane's compile time short (XLA:CPU takes ~5-15 s per
encoder graph); every test sentence fits them (at most 201 ids and 450 frames)."""

SENTENCES = [
    "Hi.",
    "Yes, please.",
    "Where is it?",
    "The quick brown fox jumps over the lazy dog.",
    "Seven sisters sewed seven silk sails.",
    "It costs three dollars and fifty cents.",
    "Turn left at the second light, then keep going.",
    "Compilation should happen once per bucket, and never again.",
    "She sells sea shells by the sea shore.",
    "Okay.",
    "A static graph is a happy graph.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "The meeting moved to Thursday at four in the afternoon.",
    "Can you hear me now?",
    "Every padded frame must stay silent, whatever batch it runs in.",
    "Numbers like seven hundred and twelve are read out as words.",
    "Good morning, everyone.",
    "The rain in Spain stays mainly in the plain, or so they say in the old songs.",
    "Why?",
    "One, two, three, four, five, six, seven, eight, nine, ten.",
    "Streaming gives the first audio long before the sentence is done, window after window.",
    "Thank you very much for listening to this rather long list of sentences of many different lengths.",
]


def _compiles() -> int:
    import torch_xla.debug.metrics as met

    data = met.metric_data("CompileTime")
    return 0 if data is None else int(data[0])


def _fallbacks() -> dict[str, int]:
    import torch_xla.debug.metrics as met

    return {name: met.counter_value(name) for name in met.counter_names() if name.startswith("aten::")}


def _max_abs(a: np.ndarray, b: np.ndarray) -> float:
    assert len(a) == len(b), (len(a), len(b))
    return float(np.max(np.abs(a - b)))


@pytest.fixture(scope="module")
def xla_joe() -> sonorant.Voice:
    """joe on the XLA runtime with the lane's buckets, warmed for batch sizes 1 and 4 and streaming."""
    voice = sonorant.load_voice(runtime="xla", buckets=JOE_BUCKETS)
    voice.engine.warmup(batch_sizes=(1, 4), stream=StreamConfig())
    return voice


@pytest.mark.skipif(HAVE_XLA, reason="checks the error raised when torch-xla is missing")
def test_missing_torch_xla_is_a_config_error(tiny_x_low_voice) -> None:  # noqa: ANN001
    model = load_piper_model(tiny_x_low_voice.onnx_path)
    with pytest.raises(sonorant.ConfigError, match="torch-xla"):
        make_runtime("xla", model)


@needs_xla
def test_tiny_multi_speaker_voice_matches_eager_without_recompiling(tiny_multi_speaker_voice) -> None:  # noqa: ANN001
    model = load_piper_model(tiny_multi_speaker_voice.onnx_path)
    buckets = BucketConfig(id_edges=(32,), frame_edges=(64, 128), max_batch=3)
    stream = StreamConfig(first_frames=16, growth=2, max_frames=32)
    xla = Engine(make_runtime("xla", model), buckets)
    xla.warmup(batch_sizes=(3,), stream=stream)  # batches of 1 and 2 pad up to 3 rows
    before = _compiles()
    utts = [Utterance(tuple(sample_ids(n, seed=n)), 1, (1.0, 0.0, 0.0), s) for n, s in zip((3, 8, 13), (0, 1, 2))]
    ref = Engine(EagerRuntime(model), buckets).synthesize(utts)
    batched, single = xla.synthesize(utts), xla.synthesize(utts, max_batch=1)
    streamed = np.concatenate([a for a, _ in xla.stream(utts[2], stream)])
    assert _compiles() == before, f"{_compiles() - before} new XLA compilations after warm-up"
    errs = [_max_abs(a, b) for a, b in zip(ref, batched)] + [_max_abs(a, b) for a, b in zip(ref, single)]
    assert max(errs) <= 1e-4, errs
    assert _max_abs(ref[2], streamed) <= 1e-4
    assert all(np.abs(a).max() > 1e-3 for a in ref), "the reference should not be silent"
    assert not _fallbacks()


@needs_xla
def test_joe_matches_eager_with_noise_off(joe: sonorant.Voice, xla_joe: sonorant.Voice) -> None:
    texts = SENTENCES[3:6]
    single = [_max_abs(joe.synthesize(t, NOISE_OFF).samples, xla_joe.synthesize(t, NOISE_OFF).samples) for t in texts]
    batched = [_max_abs(a.samples, b.samples) for a, b in
               zip(joe.synthesize_batch(texts, NOISE_OFF), xla_joe.synthesize_batch(texts, NOISE_OFF))]
    assert max(single + batched) <= 1e-4, (single, batched)


@needs_xla
def test_no_compilation_or_fallback_after_warmup(xla_joe: sonorant.Voice) -> None:
    cfg = sonorant.SynthesisConfig(seed=9)  # noise on: the graphs are the same, the values differ
    ids = [xla_joe.phoneme_ids(s) for s in SENTENCES]
    assert all(len(x) == 1 for x in ids), "each test sentence should be one model input"
    lengths = sorted({len(x[0]) for x in ids})
    assert len(lengths) >= 20, lengths
    before = _compiles()
    assert before > 0, "warm-up should have compiled the bucket graphs"
    singles = [xla_joe.synthesize(s, cfg) for s in SENTENCES]  # batch size 1, every id/frame bucket
    batched = xla_joe.synthesize_batch(SENTENCES, cfg)  # batches of 4 (and a padded batch of 2)
    streamed = [c.samples for c in xla_joe.stream(SENTENCES[-3], cfg)]  # > 240 frames: every window size
    assert _compiles() == before, f"{_compiles() - before} new XLA compilations after warm-up"
    assert not _fallbacks(), _fallbacks()
    assert all(a.samples.size > 0 for a in singles) and len(batched) == len(SENTENCES) and streamed
    for a, b in zip(singles, batched):
        assert _max_abs(a.samples, b.samples) <= 1e-4


@needs_xla
def test_stream_equals_whole_sentence(xla_joe: sonorant.Voice) -> None:
    text = "Streaming through XLA must give back the very same samples, window after window, to the very end."
    cfg = sonorant.SynthesisConfig(seed=3)
    full = xla_joe.synthesize(text, cfg).samples
    chunks = list(xla_joe.stream(text, cfg))
    assert len(chunks) >= 3
    assert _max_abs(full, np.concatenate([c.samples for c in chunks])) <= 1e-4


@needs_xla
def test_runtime_options_are_checked_and_applied(tiny_multi_speaker_voice) -> None:  # noqa: ANN001
    model = load_piper_model(tiny_multi_speaker_voice.onnx_path)
    with pytest.raises(sonorant.ConfigError, match="XLA device"):
        make_runtime("xla", model, device="cpu")
    with pytest.raises(sonorant.ConfigError, match="precision"):
        make_runtime("xla", model, precision="int3")
    runtime = make_runtime("xla", model, precision="bf16")
    assert next(runtime.model.parameters()).device.type == "xla"
    assert next(model.parameters()).device == torch.device("cpu"), "the caller's model stays where it was"
    with pytest.raises(sonorant.ConfigError):
        runtime.warmup(BucketConfig(), (0,), ())
    buckets = BucketConfig(id_edges=(32,), frame_edges=(64, 128), max_batch=3)
    utts = [Utterance(tuple(sample_ids(n, seed=n)), 1, (1.0, 0.0, 0.0), s) for n, s in zip((3, 8, 13), (0, 1, 2))]
    ref = Engine(EagerRuntime(model), buckets).synthesize(utts)
    low = Engine(runtime, buckets).synthesize(utts)  # bf16 decoder, fp32 before it
    snrs = [snr_db(a, b) for a, b in zip(ref, low)]
    assert all(len(a) == len(b) for a, b in zip(ref, low)) and 30.0 <= min(snrs) < 100.0, snrs
