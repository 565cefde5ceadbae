"""`Ops` for torch tensors on one device, the device-side noise, and the strict-fp32 scope.

On a CUDA device, host arrays go up through pinned buffers without blocking, audio is trimmed on the
device (one gather of every row's own samples, no host sync) and comes back in one asynchronous copy
into pinned memory, so the host can prepare the next batch while the device works.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..arrays import HostFuture, noise_words, uniform_parts


def torch_normal(seeds: torch.Tensor, stream: int, channels: int, width: int, lengths: torch.Tensor,
                 dtype: torch.dtype = torch.float64, offset: int = 0) -> torch.Tensor:
    """`sonorant.arrays.numpy_normal` with torch ops on `seeds`' device: N(0, 1) noise [b, channels, width]
    (float32) for positions offset .. offset + width - 1, zero at or past each row's `lengths`. `dtype` is
    the precision of the transcendental part (float64 unless the device lacks it)."""
    dev = seeds.device
    s = seeds.to(torch.int64).view(-1, 1, 1)  # [b, 1, 1]
    c = torch.arange(channels, device=dev, dtype=torch.int64).view(1, -1, 1)  # [1, c, 1]
    f = torch.arange(offset, offset + width, device=dev, dtype=torch.int64).view(1, 1, -1)  # [1, 1, t]
    first, second = noise_words(s, c, f, stream)  # [b, c, t] each
    u1 = (uniform_parts(first).to(dtype) + 0.5) * 2.0**-24
    u2 = (uniform_parts(second).to(dtype) + 0.5) * 2.0**-24
    z = (torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(2.0 * math.pi * u2)).to(torch.float32)  # [b, c, t]
    mask = f < lengths.to(torch.int64).view(-1, 1, 1)  # [b, 1, t]
    return z * mask.to(torch.float32)


# torch >= 2.9 sets TF32 per backend and operator through `fp32_precision`; mixing that with the legacy
# `allow_tf32` flags is an error there, so the scope uses whichever API the installed torch has.
_PRECISION_LEAVES = ("cuda.matmul", "cudnn.conv", "cudnn.rnn", "mkldnn.conv", "mkldnn.matmul", "mkldnn.rnn")


def _leaves() -> list[object]:
    found = []
    for path in _PRECISION_LEAVES:
        obj: object = torch.backends
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if obj is not None and hasattr(obj, "fp32_precision"):
            found.append(obj)
    return found


_SCOPE_LOCK = threading.RLock()
"""Held for the whole of a precision scope: the flags are process-wide, so scopes on different threads
(the server's scheduler beside a caller's own synthesis) take turns instead of interleaving their saves
and restores (which left cuDNN's conv and RNN leaves with different modes, an error in torch)."""


@contextlib.contextmanager
def precision_scope(mode: str) -> Iterator[None]:
    """Set the fp32 arithmetic of matmuls, convolutions and RNNs to `mode` ("ieee": true fp32, "tf32":
    TF32 where the hardware has it) for the enclosed ops, and restore exactly what was there on exit.
    Scopes nest within a thread; across threads they run one at a time (the flags are process-wide)."""
    with _SCOPE_LOCK:
        leaves = _leaves()
        if leaves:
            saved = [leaf.fp32_precision for leaf in leaves]  # type: ignore[attr-defined]
            try:
                for leaf in leaves:
                    # oneDNN has no "tf32" mode on CPUs: keep whatever it had unless asked for strict fp32.
                    if mode == "ieee" or not type(leaf).__module__.endswith("mkldnn"):
                        leaf.fp32_precision = mode  # type: ignore[attr-defined]
                yield
            finally:
                for leaf, value in zip(leaves, saved):
                    leaf.fp32_precision = value  # type: ignore[attr-defined]
            return
        matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32  # older torch
        try:
            torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
            torch.backends.cudnn.allow_tf32 = mode == "tf32"
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32 = matmul
            torch.backends.cudnn.allow_tf32 = cudnn


def strict_fp32() -> contextlib.AbstractContextManager[None]:
    """Run the enclosed ops in true fp32 (TF32 and oneDNN's reduced fp32 modes off), restoring the flags
    on exit. The stages that decide an utterance's length run inside it: durations are rounded up to whole
    frames, so TF32's 10-bit mantissa could flip a frame and make a batched utterance one frame longer
    than the same utterance alone."""
    return precision_scope("ieee")


class _HostCopy:
    """A copy into a host tensor, complete once its CUDA event has (no event: complete already)."""

    def __init__(self, host: torch.Tensor, event: torch.cuda.Event | None) -> None:
        self._host = host
        self._event = event

    def result(self) -> np.ndarray:
        if self._event is not None:
            self._event.synchronize()
        return self._host.numpy()


class _Trimmed:
    """Every row's own samples, packed in one host array and cut into per-row views on `result()`."""

    def __init__(self, packed: HostFuture, samples: np.ndarray) -> None:
        self._packed = packed
        self._ends = np.cumsum(samples)[:-1]

    def result(self) -> list[np.ndarray]:
        return np.split(self._packed.result(), self._ends)


class TorchOps:
    """`sonorant.arrays.Ops` for torch tensors on `device`."""

    def __init__(self, device: torch.device | str) -> None:
        self.torch_device = torch.device(device)
        self.device = str(self.torch_device)
        self.cuda = self.torch_device.type == "cuda"
        self.noise_dtype = torch.float32 if self.torch_device.type == "xla" else torch.float64
        """Precision of the noise's transcendental part: float64 where the device has it."""

    def asarray(self, host: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(host))
        if self.cuda:
            return t.pin_memory().to(self.torch_device, non_blocking=True)
        return t.to(self.torch_device)

    def to_host(self, x: torch.Tensor) -> np.ndarray:
        return self.to_host_async(x).result()

    def to_host_async(self, x: torch.Tensor) -> HostFuture:
        x = x.detach()
        if x.device.type == "cuda":
            host = torch.empty(x.shape, dtype=x.dtype, pin_memory=True)
            host.copy_(x, non_blocking=True)
            event = torch.cuda.Event()
            event.record(torch.cuda.current_stream(x.device))
            return _HostCopy(host, event)
        return _HostCopy(x.to("cpu").contiguous(), None)

    def zeros(self, shape: Sequence[int], like: torch.Tensor) -> torch.Tensor:
        return torch.zeros(tuple(shape), dtype=like.dtype, device=like.device)

    def concat(self, xs: Sequence[torch.Tensor], axis: int = 0) -> torch.Tensor:
        return torch.cat(list(xs), dim=axis)

    def copy(self, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    def pad_last(self, x: torch.Tensor, width: int) -> torch.Tensor:
        extra = width - x.shape[-1]
        return x if extra <= 0 else F.pad(x, (0, extra))

    def mask(self, lengths: torch.Tensor, width: int) -> torch.Tensor:
        pos = torch.arange(width, device=lengths.device)  # [width]
        return (pos.view(1, 1, -1) < lengths.view(-1, 1, 1)).float()  # [b, 1, width]

    def normal(self, seeds: torch.Tensor, stream: int, channels: int, width: int,
               lengths: torch.Tensor, offset: int = 0) -> torch.Tensor:
        return torch_normal(seeds, stream, channels, width, lengths, self.noise_dtype, offset)

    def trim(self, audio: torch.Tensor, samples: np.ndarray) -> list[np.ndarray]:
        return self.trim_async(audio, samples).result()

    def trim_async(self, audio: torch.Tensor, samples: np.ndarray) -> _Trimmed:
        """Start `trim`: on the device, gather each row's first `samples[i]` samples into one packed
        vector (shape known on the host, so no sync), then copy it to the host asynchronously."""
        samples = np.asarray(samples, dtype=np.int64)
        total, width = int(samples.sum()), audio.shape[-1]
        if audio.device.type == "cpu":
            flat = audio.detach().float().reshape(-1)
            host = torch.cat([flat[r * width : r * width + int(n)] for r, n in enumerate(samples)]) if total else flat[:0]
            return _Trimmed(_HostCopy(host.contiguous(), None), samples)
        dev = audio.device
        lengths = self.asarray(samples)  # [b], one upload
        ends = torch.cumsum(lengths, 0)  # [b]
        pos = torch.arange(total, device=dev)  # [total]
        row = torch.searchsorted(ends, pos, right=True)  # [total]
        col = pos - (ends - lengths)[row]  # [total]
        packed = audio.detach().float().reshape(-1)[row * width + col]  # [total]
        return _Trimmed(self.to_host_async(packed), samples)
