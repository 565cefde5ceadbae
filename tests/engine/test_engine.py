"""Engine: buckets, batch invariance with the real voice, seeds."""

from __future__ import annotations

import numpy as np
import pytest

import sonorant
from sonorant.engine import BucketConfig, Engine, Utterance, bucket_size
from sonorant.runtimes import EagerRuntime

SENTENCES = [
    "Hi.",
    "The quick brown fox jumps over the lazy dog.",
    "Batching must never change what an utterance sounds like, whatever its neighbours are.",
    "Seven sisters sewed seven silk sails.",
]


class _PaddedEager(EagerRuntime):
    """Eager execution that pads to buckets like a compiled runtime would."""

    name = "eager-padded"
    static_shapes = True


def test_bucket_size_picks_smallest_edge_and_rounds_past_the_last() -> None:
    edges = (32, 64, 128)
    assert [bucket_size(n, edges) for n in (1, 32, 33, 64, 100, 128)] == [32, 32, 64, 64, 128, 128]
    assert bucket_size(129, edges) == 256 and bucket_size(300, edges) == 384
    with pytest.raises(ValueError):
        bucket_size(0, edges)


def test_bucket_defaults_per_device() -> None:
    import torch

    cpu, gpu = BucketConfig.for_device("cpu"), BucketConfig.for_device(torch.device("cuda", 0))
    assert cpu == BucketConfig(max_batch=1)
    assert gpu.max_batch > cpu.max_batch and gpu.id_edges == cpu.id_edges


def test_streamed_head_flow_equals_full_flow_on_padded_runtime(joe: sonorant.Voice) -> None:
    """The first window's latents come from a flow over a bucket-sized head; padded shapes agree too."""
    utt = _utterances(joe, seed=2)[2]
    engine = Engine(_PaddedEager(joe.model))
    full = engine.run_batch([utt])[0]
    stitched = np.concatenate([piece for piece, _ in engine.stream(utt)])
    head = engine.frame_width(16 + engine.context + engine.flow_context)
    assert head < engine.frame_width(len(full) // joe.model.hop_length), "the head flow must be a shorter run"
    assert len(stitched) == len(full) and float(np.max(np.abs(stitched - full))) <= 1e-4


def _utterances(voice: sonorant.Voice, seed: int = 11) -> list[Utterance]:
    cfg = voice.resolve(sonorant.SynthesisConfig(seed=seed))
    ids = [voice.phoneme_ids(s)[0] for s in SENTENCES]
    return [Utterance(tuple(x), seed + i, cfg.knobs) for i, x in enumerate(ids)]


@pytest.mark.parametrize("runtime_cls", [EagerRuntime, _PaddedEager])
def test_batched_equals_one_by_one(joe: sonorant.Voice, runtime_cls: type) -> None:
    engine = Engine(runtime_cls(joe.model), BucketConfig(max_batch=len(SENTENCES)))
    utts = _utterances(joe)
    batched = engine.synthesize(utts)
    single = [engine.synthesize([u])[0] for u in utts]
    for a, b in zip(batched, single):
        assert len(a) == len(b)
        assert float(np.max(np.abs(a - b))) <= 1e-4
    assert all(np.abs(a).max() > 0.05 for a in batched), "audio should not be silent"


def test_padded_bucket_runtime_equals_exact_shapes(joe: sonorant.Voice) -> None:
    utts = _utterances(joe, seed=5)
    exact = Engine(EagerRuntime(joe.model)).synthesize(utts, max_batch=1)
    padded = Engine(_PaddedEager(joe.model)).synthesize(utts, max_batch=1)
    for a, b in zip(exact, padded):
        assert len(a) == len(b) and float(np.max(np.abs(a - b))) <= 1e-4


def test_same_seed_same_audio_other_seed_other_audio(joe: sonorant.Voice) -> None:
    text = "Seeds make synthesis reproducible."
    a = joe.synthesize(text, sonorant.SynthesisConfig(seed=1)).samples
    b = joe.synthesize(text, sonorant.SynthesisConfig(seed=1)).samples
    c = joe.synthesize(text, sonorant.SynthesisConfig(seed=2)).samples
    assert np.array_equal(a, b)
    assert len(a) != len(c) or float(np.max(np.abs(a - c))) > 1e-3
