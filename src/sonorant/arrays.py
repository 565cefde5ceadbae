"""Arrays on a runtime's device, and the per-utterance noise computed there.

The engine never touches a tensor library directly: each runtime hands it an `Ops` for the arrays it
produces (numpy arrays for ONNX Runtime on a CPU, torch tensors on a CPU, a CUDA GPU or an XLA device),
and the engine slices, pads, stacks and copies them back to the host through it. This module has only
numpy behind it, so a process that runs ONNX Runtime never imports torch.

Noise is a pure function of (seed, stream, channel, frame): a counter-based generator (integer hashing of
those four numbers, then Box-Muller), written once with operators that numpy arrays and torch tensors
share, so the same seed gives the same noise on every device, in any batch, bucket or padding, with no
host-side loop over rows. Integer words are kept in int64 below 2^49 at every step (32-bit products are
split into 16-bit halves), so no backend ever overflows; the transcendental part runs in float64 where
the device has it and is rounded to float32 once, so implementations of log/cos agree to the last bit in
all but vanishingly rare cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

MASK32 = 0xFFFFFFFF
DURATION_STREAM = 0x5D
"""Noise stream of the duration predictor's flows."""
LATENT_STREAM = 0x2A
"""Noise stream of the prior sample (latent frames)."""
MAX_SEED = 2**63 - 1
"""Largest seed an utterance can have (seeds travel as int64)."""

_GOLDEN = 0x9E3779B9  # 2^32 / golden ratio: consecutive counters land far apart before mixing
_STREAM_SALT = 0x632BE5AB
_PAIR_SALT = 0x85A308D3


def _mul32(x: Any, c: int) -> Any:
    """(x * c) mod 2^32 for int64 words x in [0, 2^32) and a constant c < 2^32, without overflow."""
    return (x * (c & 0xFFFF) + (((x * (c >> 16)) & 0xFFFF) << 16)) & MASK32


def mix32(x: Any) -> Any:
    """A bijective 32-bit integer hash with strong avalanche (C. Wellons' "lowbias32" constants)."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def noise_words(seeds: Any, channels: Any, frames: Any, stream: int) -> tuple[Any, Any]:
    """Two independent 32-bit words per (seed, channel, frame), as int64 arrays that broadcast
    seeds [b, 1, 1] x channels [1, c, 1] x frames [1, 1, t] -> [b, c, t]."""
    lo, hi = seeds & MASK32, (seeds >> 32) & MASK32
    key = mix32(lo ^ mix32((hi + _mul32(stream, _STREAM_SALT)) & MASK32))  # [b, 1, 1]
    key = mix32((key + _mul32(channels + 1, _GOLDEN)) & MASK32)  # [b, c, 1]
    first = mix32(mix32((key + _mul32(frames, _GOLDEN)) & MASK32))  # [b, c, t]
    second = mix32(first ^ _PAIR_SALT)
    return first, second


def uniform_parts(word: Any) -> Any:
    """The top 24 bits of a word as an integer in [0, 2^24): (k + 0.5) / 2^24 is the uniform in (0, 1)."""
    return word >> 8


class HostFuture(Protocol):
    """A device-to-host copy in flight; `result()` waits for it and returns the host array."""

    def result(self) -> np.ndarray:
        """The host array (blocks until the copy is done)."""
        ...


class Ops(Protocol):
    """What the engine does with a runtime's arrays; one implementation per array library."""

    device: str
    """Where the arrays live: "cpu", "cuda:0", "xla:0", ..."""

    def asarray(self, host: np.ndarray) -> Any:
        """A host array on the device (asynchronously where the device allows)."""
        ...

    def to_host(self, x: Any) -> np.ndarray:
        """A device array as a host numpy array (waits for it)."""
        ...

    def to_host_async(self, x: Any) -> HostFuture:
        """Start copying a device array to the host; the copy is done when its `result()` returns."""
        ...

    def zeros(self, shape: Sequence[int], like: Any) -> Any:
        """Zeros of `like`'s dtype on the device."""
        ...

    def concat(self, xs: Sequence[Any], axis: int = 0) -> Any:
        """Arrays joined along `axis`."""
        ...

    def copy(self, x: Any) -> Any:
        """An independent copy (slices of a batch outlive the batch)."""
        ...

    def pad_last(self, x: Any, width: int) -> Any:
        """`x` zero-padded on its last axis to `width`."""
        ...

    def mask(self, lengths: Any, width: int) -> Any:
        """Float32 [b, 1, width]: 1 where position < lengths[i], else 0."""
        ...

    def normal(self, seeds: Any, stream: int, channels: int, width: int, lengths: Any, offset: int = 0) -> Any:
        """N(0, 1) noise [b, channels, width] float32 from `seeds` [b] (int64) on the device, for positions
        offset .. offset + width - 1; positions at or past each row's `lengths` [b] are zero."""
        ...

    def trim(self, audio: Any, samples: np.ndarray) -> list[np.ndarray]:
        """Rows of `audio` [b, n] cut to `samples[i]` each, as float32 host arrays (one copy)."""
        ...

    def trim_async(self, audio: Any, samples: np.ndarray) -> Any:
        """Start `trim`; the returned object's `result()` gives its list of host arrays."""
        ...


class _Ready:
    """A result that is already there."""

    def __init__(self, value: Any) -> None:
        self._value = value

    def result(self) -> Any:
        return self._value


class NumpyOps:
    """`Ops` for numpy arrays on the host (ONNX Runtime's CPU provider)."""

    device = "cpu"

    def asarray(self, host: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(host)

    def to_host(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x)

    def to_host_async(self, x: np.ndarray) -> HostFuture:
        return _Ready(np.asarray(x))

    def zeros(self, shape: Sequence[int], like: np.ndarray) -> np.ndarray:
        return np.zeros(tuple(shape), dtype=like.dtype)

    def concat(self, xs: Sequence[np.ndarray], axis: int = 0) -> np.ndarray:
        return np.concatenate(list(xs), axis=axis)

    def copy(self, x: np.ndarray) -> np.ndarray:
        return x.copy()

    def pad_last(self, x: np.ndarray, width: int) -> np.ndarray:
        extra = width - x.shape[-1]
        if extra <= 0:
            return x
        return np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, extra)])

    def mask(self, lengths: np.ndarray, width: int) -> np.ndarray:
        return (np.arange(width)[None, None, :] < np.asarray(lengths)[:, None, None]).astype(np.float32)

    def normal(self, seeds: np.ndarray, stream: int, channels: int, width: int, lengths: np.ndarray,
               offset: int = 0) -> np.ndarray:
        return numpy_normal(seeds, stream, channels, width, lengths, offset)

    def trim(self, audio: np.ndarray, samples: np.ndarray) -> list[np.ndarray]:
        return [np.ascontiguousarray(audio[row, : int(n)], dtype=np.float32) for row, n in enumerate(samples)]

    def trim_async(self, audio: np.ndarray, samples: np.ndarray) -> _Ready:
        return _Ready(self.trim(audio, samples))


def numpy_normal(seeds: np.ndarray, stream: int, channels: int, width: int, lengths: np.ndarray,
                 offset: int = 0) -> np.ndarray:
    """`Ops.normal` in numpy (also the reference the other backends are tested against)."""
    s = np.asarray(seeds, dtype=np.int64).reshape(-1, 1, 1)  # [b, 1, 1]
    c = np.arange(channels, dtype=np.int64).reshape(1, -1, 1)  # [1, c, 1]
    f = np.arange(offset, offset + width, dtype=np.int64).reshape(1, 1, -1)  # [1, 1, t]
    first, second = noise_words(s, c, f, stream)  # [b, c, t] each
    u1 = (uniform_parts(first).astype(np.float64) + 0.5) * 2.0**-24
    u2 = (uniform_parts(second).astype(np.float64) + 0.5) * 2.0**-24
    z = (np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)).astype(np.float32)  # [b, c, t]
    mask = f < np.asarray(lengths, dtype=np.int64).reshape(-1, 1, 1)  # [b, 1, t]
    return np.where(mask, z, np.float32(0.0))


def pad_ids(sentences: Sequence[Sequence[int]], width: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids [b, width] int64 (zero-padded) and lengths [b] for token sentences, without a loop over rows."""
    lengths = np.fromiter((len(s) for s in sentences), dtype=np.int64, count=len(sentences))  # [b]
    flat = np.fromiter((i for s in sentences for i in s), dtype=np.int64, count=int(lengths.sum()))
    ids = np.zeros((len(sentences), width), dtype=np.int64)
    ids[np.arange(width) < lengths[:, None]] = flat  # row-major fill matches the flat order
    return ids, lengths
