"""Plain PyTorch execution of a model, in inference mode, on one device."""

from __future__ import annotations

import torch

from ..models.vits import Encoded, Vits


class EagerRuntime:
    """Runs `Vits.encode` / `Vits.decode` directly; shapes need not be bucketed."""

    name = "eager"
    static_shapes = False

    def __init__(self, model: Vits, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()

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
            audio = self.model.dec(z.to(self.device), None if full else frames.to(self.device), g=g)
        return audio.float().cpu()
