"""Plain PyTorch execution of a model, in inference mode, on one device."""

from __future__ import annotations

import copy

import torch

from ..models.vits import Encoded, Vits
from .precision import decoder_dtype


class EagerRuntime:
    """Runs `Vits.encode` / `Vits.latent` / the decoder directly; shapes need not be bucketed.

    `precision` ("fp32", "bf16", "fp16") sets the decoder's dtype; everything before it stays fp32
    (see `sonorant.runtimes.precision`).
    """

    name = "eager"
    static_shapes = False

    def __init__(self, model: Vits, device: str | torch.device = "cpu", precision: str = "fp32") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.precision = precision
        self.dtype = decoder_dtype(precision, self.device)
        # A reduced-precision copy, so the voice's own fp32 model is left as it is.
        self.dec = self.model.dec if self.dtype is torch.float32 else copy.deepcopy(self.model.dec).to(self.dtype)

    def encode(
        self,
        ids: torch.Tensor,
        lengths: torch.Tensor,
        noise_w: torch.Tensor,
        length_scale: torch.Tensor,
        dur_noise: torch.Tensor,
        sid: torch.Tensor | None,
    ) -> Encoded:
        dev = self.device
        with torch.inference_mode():
            return self.model.encode(
                ids.to(dev), lengths.to(dev), noise_w.to(dev), length_scale.to(dev), dur_noise.to(dev),
                None if sid is None else sid.to(dev),
            )

    def latent(self, enc: Encoded, noise_scale: torch.Tensor, z_noise: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self.model.latent(enc, noise_scale.to(self.device), z_noise.to(self.device))

    def vocode(self, z: torch.Tensor, frames: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        full = bool((frames == z.shape[-1]).all())  # no padding: skip the masks (same samples, less work)
        with torch.inference_mode():
            audio = self.dec(
                z.to(self.device, self.dtype), None if full else frames.to(self.device),
                g=None if g is None else g.to(self.dtype),
            )
        return audio.float().cpu()
