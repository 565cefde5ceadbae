"""Reduced-precision decoding: which precisions exist and whether this machine computes them natively.

Only the decoder (HiFi-GAN, ~70 % of the work) runs in reduced precision. The text encoder, the
duration predictor and the flows stay in fp32: durations are rounded up to whole frames, so a
low-precision duration predictor could change an utterance's length, not just its samples.
"""

from __future__ import annotations

import logging

import torch

from ..errors import ConfigError

_LOG = logging.getLogger(__name__)

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
"""Precision names accepted by the runtimes' `precision` option, and their dtypes."""


def decoder_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The decoder's dtype for `precision` on `device`; warns when the hardware only emulates it."""
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    dtype = PRECISIONS[precision]
    if dtype is not torch.float32 and not native(dtype, device):
        _LOG.warning("%s is emulated on this %s (no native support): expect it slower than fp32, not faster",
                     precision, "CPU" if device.type == "cpu" else device)
    return dtype


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
