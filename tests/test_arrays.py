"""Device-side noise (`sonorant.arrays`, `runtimes.torch_ops`): a pure function of seed, channel and
frame, the same in numpy and torch, independent of batch, width and padding, and statistically normal."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sonorant.arrays import (DURATION_STREAM, LATENT_STREAM, MAX_SEED, NumpyOps, mix32, numpy_normal, pad_ids)
from sonorant.runtimes.torch_ops import TorchOps, torch_normal


def _lowbias32_reference(x: int) -> int:
    """The published lowbias32 hash with Python's unbounded ints (wrapping by masking after each product)."""
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    return x ^ (x >> 16)


def test_mix32_matches_the_reference_hash_without_overflow() -> None:
    rng = np.random.default_rng(0)
    words = np.concatenate([rng.integers(0, 2**32, 5000, dtype=np.int64), [0, 1, 2**31, 2**32 - 1]])
    got_np = mix32(words)
    got_torch = mix32(torch.from_numpy(words)).numpy()
    want = np.array([_lowbias32_reference(int(w)) for w in words], dtype=np.int64)
    assert np.array_equal(got_np, want) and np.array_equal(got_torch, want)
    assert got_np.min() >= 0 and got_np.max() < 2**32


def test_numpy_and_torch_noise_agree() -> None:
    seeds = np.array([0, 1, 12345, 2**40 + 7, MAX_SEED], dtype=np.int64)
    lengths = np.array([50, 64, 1, 33, 64], dtype=np.int64)
    a = numpy_normal(seeds, LATENT_STREAM, 192, 64, lengths)
    b = torch_normal(torch.from_numpy(seeds), LATENT_STREAM, 192, 64, torch.from_numpy(lengths)).numpy()
    assert a.dtype == np.float32 and a.shape == (5, 192, 64)
    assert np.max(np.abs(a - b)) <= 1e-6
    assert np.mean(a == b) >= 0.999  # float64 transcendentals rounded once: identical bar rare ties


def test_noise_ignores_width_padding_and_batch_mates() -> None:
    seeds, lengths = np.array([7, 8, 9]), np.array([30, 12, 25])
    narrow = numpy_normal(seeds, DURATION_STREAM, 2, 30, lengths)
    wide = numpy_normal(seeds, DURATION_STREAM, 2, 128, lengths)
    assert np.array_equal(narrow, wide[:, :, :30])
    assert not wide[:, :, 30:].any() and not wide[1, :, 12:].any() and wide[1, :, :12].all()
    alone = numpy_normal(seeds[1:2], DURATION_STREAM, 2, 30, lengths[1:2])
    assert np.array_equal(alone[0], narrow[1])
    ops = TorchOps("cpu")
    t = ops.normal(torch.from_numpy(seeds), DURATION_STREAM, 2, 128, torch.from_numpy(lengths)).numpy()
    assert np.max(np.abs(t[:, :, :30] - narrow)) <= 1e-6


def test_seeds_and_streams_give_unrelated_noise() -> None:
    full = np.array([4096])
    base = numpy_normal(np.array([5]), LATENT_STREAM, 8, 4096, full)[0].ravel()
    for other in (numpy_normal(np.array([6]), LATENT_STREAM, 8, 4096, full)[0].ravel(),
                  numpy_normal(np.array([5]), DURATION_STREAM, 8, 4096, full)[0].ravel(),
                  numpy_normal(np.array([5 + 2**32]), LATENT_STREAM, 8, 4096, full)[0].ravel()):
        assert abs(np.corrcoef(base, other)[0, 1]) < 0.03


def test_noise_is_standard_normal_and_uncorrelated() -> None:
    z = numpy_normal(np.arange(4, dtype=np.int64), LATENT_STREAM, 192, 2048, np.full(4, 2048)).astype(np.float64)
    flat = z.ravel()  # 1.5 M samples
    assert abs(flat.mean()) < 0.005 and abs(flat.std() - 1.0) < 0.005
    qs = np.quantile(flat, [0.0013, 0.0228, 0.1587, 0.5, 0.8413, 0.9772, 0.9987])
    assert np.allclose(qs, [-3, -2, -1, 0, 1, 2, 3], atol=0.03), qs
    for lag_frames, lag_channels in ((1, 0), (0, 1), (7, 0), (0, 96)):
        a = z[:, lag_channels:, lag_frames:]
        b = z[:, : z.shape[1] - lag_channels, : z.shape[2] - lag_frames]
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.005, (lag_frames, lag_channels)


def test_pad_ids_fills_rows_in_order() -> None:
    ids, lengths = pad_ids([(1, 2, 3), (4,), (5, 6)], 4)
    assert ids.tolist() == [[1, 2, 3, 0], [4, 0, 0, 0], [5, 6, 0, 0]] and lengths.tolist() == [3, 1, 2]


def test_ops_trim_gives_each_row_its_own_samples() -> None:
    audio = np.arange(24, dtype=np.float32).reshape(3, 8)
    samples = np.array([8, 0, 3])
    for ops, arr in ((NumpyOps(), audio), (TorchOps("cpu"), torch.from_numpy(audio))):
        rows = ops.trim(arr, samples)
        assert [r.tolist() for r in rows] == [list(range(8)), [], [16.0, 17.0, 18.0]]
        assert all(r.dtype == np.float32 for r in rows)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_noise_and_trim_match_the_cpu() -> None:
    seeds = np.array([3, 2**50 + 1], dtype=np.int64)
    lengths = np.array([100, 37], dtype=np.int64)
    ops = TorchOps("cuda")
    got = ops.to_host(ops.normal(ops.asarray(seeds), LATENT_STREAM, 192, 100, ops.asarray(lengths)))
    assert np.max(np.abs(got - numpy_normal(seeds, LATENT_STREAM, 192, 100, lengths))) <= 1e-6
    audio = torch.arange(300, dtype=torch.float32, device="cuda").view(3, 100)
    rows = ops.trim(audio, np.array([100, 5, 0]))
    assert [len(r) for r in rows] == [100, 5, 0] and rows[1].tolist() == [100.0, 101.0, 102.0, 103.0, 104.0]
