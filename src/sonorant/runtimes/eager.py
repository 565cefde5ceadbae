"""Plain PyTorch execution of a model, in inference mode, on one device (CPU or CUDA)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from ..arrays import DURATION_STREAM, LATENT_STREAM
from ..models.vits import Encoded, Vits
from .precision import decoder_dtype, decoder_scope
from .torch_ops import TorchOps, strict_fp32


class EagerRuntime:
    """Runs `Vits.encode` / `Vits.latent` / the decoder directly; shapes need not be bucketed.

    `precision` ("fp32", "tf32", "bf16", "fp16") sets the decoder's arithmetic; the stages before it
    always run in strict fp32 (see `sonorant.runtimes.precision`).
    """

    name = "eager"
    static_shapes = False

    def __init__(self, model: Vits, device: str | torch.device = "cpu", precision: str = "fp32") -> None:
        self.torch_device = torch.device(device)
        self.device = str(self.torch_device)
        self.ops = TorchOps(self.torch_device)
        self.model = model.to(self.torch_device).eval()
        self.cfg = model.cfg
        self.precision = precision
        self.dtype = decoder_dtype(precision, self.torch_device)
        # A reduced-precision copy, so the voice's own fp32 model is left as it is.
        self.dec = self.model.dec if self.dtype is torch.float32 else copy.deepcopy(self.model.dec).to(self.dtype)

    def encode(self, ids: np.ndarray, lengths: np.ndarray, noise_w: np.ndarray, length_scale: np.ndarray,
               seeds: np.ndarray, sid: np.ndarray | None) -> Encoded:
        o = self.ops
        ids_t, lengths_t = o.asarray(ids), o.asarray(lengths)
        with torch.inference_mode(), strict_fp32():
            dur_noise = o.normal(o.asarray(seeds), DURATION_STREAM, 2, ids.shape[1], lengths_t)  # [b, 2, t_x]
            return self.model.encode(ids_t, lengths_t, o.asarray(noise_w), o.asarray(length_scale), dur_noise,
                                     None if sid is None else o.asarray(sid))

    def latent(self, enc: Encoded, noise_scale: np.ndarray, seeds: np.ndarray, width: int) -> torch.Tensor:
        o = self.ops
        with torch.inference_mode(), strict_fp32():
            z_noise = o.normal(o.asarray(seeds), LATENT_STREAM, self.cfg.inter_channels, width, enc.frames)
            return self.model.latent(enc, o.asarray(noise_scale), z_noise)  # [b, c, width]

    def vocode(self, z: torch.Tensor, frames: np.ndarray, g: Any | None) -> torch.Tensor:
        full = bool((np.asarray(frames) == z.shape[-1]).all())  # no padding: skip the masks (same samples)
        with torch.inference_mode(), decoder_scope(self.precision):
            audio = self.dec(
                z.to(self.torch_device, self.dtype), None if full else self.ops.asarray(np.asarray(frames)),
                g=None if g is None else g.to(self.dtype),
            )
        return audio if audio.dtype == torch.float32 else audio.float()  # [b, t * hop]
