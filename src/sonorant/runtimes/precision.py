"""The precision policy: which precisions exist, where they apply, and whether this machine has them.

- The stages that decide an utterance's length (text encoder, durations) and the flows run in strict
  fp32 on every device: TF32 and oneDNN's reduced fp32 modes are switched off around them and restored
  afterwards (`torch_ops.strict_fp32`). Durations are rounded up to whole frames, so a rounding flip
  would change an utterance's length, not just its samples.
- Only the decoder (HiFi-GAN, ~70 % of the work) may run in reduced precision, chosen per voice with
  the runtime's `precision` option: "fp32" (strict, the default), "tf32" (fp32 storage with TF32
  tensor-core matmuls and convolutions on CUDA GPUs that have them), "bf16" or "fp16". A reduced
  precision must pass the quality guard (`tests/quality/test_precision_guard.py`: Whisper WER within one
  point of fp32 and SNR >= 30 dB against fp32) on the hardware it is used on.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import torch

from ..errors import ConfigError

_LOG = logging.getLogger(__name__)

PRECISIONS = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
"""Precision names accepted by the runtimes' `precision` option, and the decoder's storage dtype for each."""


def decoder_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The decoder's dtype for `precision` on `device`; warns when the hardware only emulates it."""
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    dtype = PRECISIONS[precision]
    if precision == "tf32" and device.type != "cuda":
        _LOG.warning("tf32 only changes anything on CUDA GPUs; on %s the decoder runs in plain fp32", device)
    if dtype is not torch.float32 and not native(dtype, device):
        _LOG.warning("%s is emulated on this %s (no native support): expect it slower than fp32, not faster",
                     precision, "CPU" if device.type == "cpu" else device)
    return dtype


@contextlib.contextmanager
def decoder_scope(precision: str) -> Iterator[None]:
    """The arithmetic of the decoder's fp32 ops for `precision`: TF32 allowed for "tf32", strict fp32
    otherwise (bf16 / fp16 decoders compute in their own dtype either way). Restored on exit."""
    from .torch_ops import precision_scope

    with precision_scope("tf32" if precision == "tf32" else "ieee"):
        yield


def native(dtype: torch.dtype, device: torch.device) -> bool:
    """Whether `device` computes convolutions in `dtype` natively (CPU: AVX-512 BF16 / AMX / FP16 via oneDNN)."""
    if dtype is torch.float32:
        return True
    if device.type == "cuda":
        return dtype is torch.float16 or torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        check = torch.ops.mkldnn._is_mkldnn_bf16_supported if dtype is torch.bfloat16 else torch.ops.mkldnn._is_mkldnn_fp16_supported
        return bool(check())
    return True
