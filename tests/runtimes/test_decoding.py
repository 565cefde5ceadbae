"""The autoregressive decode loop (`runtimes.decoding`) on DLE's tiny Tacotron2 + WaveGlow: one host read per
block (counted at the runtime's `ops.to_host`, not by the loop's own bookkeeping), the same audio whatever the
block size, and a clear error at the step bound."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sonorant.engine import Engine, Utterance
from sonorant.errors import DecodeLimitError
from sonorant.runtimes import EagerRuntime
from sonorant.runtimes.decoding import DecodeCounter

FIXTURES = Path(__file__).parent.parent / "fixtures" / "tacotron2"


def _voice(**options: object) -> object:
    from sonorant.voices.nvidia import load_tacotron2_voice

    return load_tacotron2_voice(FIXTURES / "tacotron2_tiny.pt", FIXTURES / "waveglow_tiny.pt", **options)


def _utts(model: object) -> list[Utterance]:
    rng = np.random.default_rng(3)
    n_vocab = model.spec.n_vocab  # type: ignore[attr-defined]
    knobs = model.spec.knob_defaults()  # type: ignore[attr-defined]
    return [Utterance(tuple(int(i) for i in rng.integers(1, n_vocab, n)), 40 + n, knobs) for n in (4, 23, 51)]


def test_one_host_read_per_block_not_per_step() -> None:
    model = _voice(block=8)
    runtime = EagerRuntime(model)
    reads = []
    original = runtime.ops.to_host

    def counting(x: object) -> np.ndarray:
        reads.append(tuple(getattr(x, "shape", ())))
        return original(x)

    runtime.ops.to_host = counting  # type: ignore[method-assign]
    runtime.decode_counter = DecodeCounter()
    utts = _utts(model)
    enc = Engine(runtime).encode(utts)[0]
    frames = [int(f) for f in original(enc.frames)]
    blocks = math.ceil(max(frames) / 8)
    steps = blocks * 8
    # reads: the live flags once per block, then the engine's one read of the frame counts
    assert len(reads) == blocks + 1, (reads, frames)
    assert runtime.decode_counter.host_reads == runtime.decode_counter.blocks == blocks
    assert len(reads) < steps / 4  # a per-step loop would read `steps` times
    assert max(frames) > 20 and len(set(frames)) == len(frames)


def test_block_size_does_not_change_the_audio() -> None:
    out = {}
    for block in (1, 8, 32):
        model = _voice(block=block)
        out[block] = Engine(EagerRuntime(model)).synthesize(_utts(model))
    for block in (8, 32):
        assert [len(a) for a in out[block]] == [len(a) for a in out[1]]
        worst = max(float(np.abs(a - b).max()) for a, b in zip(out[block], out[1]))
        assert worst <= 1e-5, (block, worst)


def test_step_bound_is_a_clear_error() -> None:
    model = _voice(max_steps=12, block=8)
    engine = Engine(EagerRuntime(model))
    with pytest.raises(DecodeLimitError, match="within 12 steps") as err:
        engine.synthesize(_utts(model))
    assert "rows" in str(err.value)


def test_warmup_decodes_one_block_without_an_error() -> None:
    model = _voice(max_steps=12, block=8)  # no utterance ends within 12 steps, yet warm-up needs none to end
    runtime = EagerRuntime(model)
    enc = runtime.encode_blocks(np.ones((2, 16), np.int64), np.array([16, 9]), np.tile(
        np.asarray(model.spec.knob_defaults(), np.float32), (2, 1)), np.zeros(2, np.int64), None, max_blocks=1)
    assert tuple(enc.tokens.shape) == (2, model.spec.decoder.frame_channels, 8)


def test_thirty_two_rows_of_very_different_lengths_batched_equal_each_alone() -> None:
    model = _voice(block=16)
    rng = np.random.default_rng(7)
    n_vocab = model.spec.n_vocab
    # ids from 1 to 90 and gate thresholds from 0.3 to 0.56: frame counts from about 7 to 90
    utts = [Utterance(tuple(int(i) for i in rng.integers(1, n_vocab, 1 + (k * 89) // 31)), 500 + k,
                      (0.3 + 0.26 * ((k * 7) % 32) / 31, 0.6)) for k in range(32)]
    engine = Engine(EagerRuntime(model))
    batched = engine.run_batch(utts)  # one padded pass of all 32 rows
    alone = [engine.run_batch([u])[0] for u in utts]
    frames = [len(a) // model.spec.hop for a in alone]
    assert [len(a) for a in batched] == [len(a) for a in alone]
    assert max(frames) >= 5 * min(frames), frames  # very different lengths, in one pass of 32 rows
    worst = max(float(np.abs(a - b).max()) for a, b in zip(batched, alone))
    assert worst <= 1e-4, worst


@pytest.mark.gpu
@pytest.mark.parametrize("runtime", ["eager", "compile"])
def test_cuda_decodes_the_same_frames_as_the_cpu(runtime: str, tmp_path: Path) -> None:
    """On a CUDA GPU: identical frame counts (the gate decides them) and the CPU's audio within 60 dB."""
    from sonorant import devices
    from sonorant.runtimes import make_runtime

    if devices.cuda_count() == 0:
        pytest.skip("needs a CUDA GPU")
    model = _voice(block=16, denoise=0.01)
    utts = _utts(model)
    cpu = Engine(EagerRuntime(model)).synthesize(utts)
    options = {"cache_dir": tmp_path} if runtime == "compile" else {}
    gpu = Engine(make_runtime(runtime, _voice(block=16, denoise=0.01), device="cuda:0", **options)).synthesize(utts)
    assert [len(a) for a in gpu] == [len(a) for a in cpu]
    for a, b in zip(cpu, gpu):
        noise = float(np.sum((a - b) ** 2)) + 1e-30
        assert 10 * np.log10(float(np.sum(a**2)) / noise) >= 60.0
