"""The seam between the engine and whatever executes a model's two static stages."""

from __future__ import annotations

from typing import Protocol

import torch

from ..models.vits import Encoded


class Runtime(Protocol):
    """Executes a VITS voice's `encode` and `decode` stages (eager, compiled, exported, ...)."""

    name: str
    """Short name used on the command line and in engine configs."""
    static_shapes: bool
    """True if inputs must be padded to bucket sizes (compiled graphs); False runs exact shapes."""

    def encode(
        self,
        ids: torch.Tensor,
        lengths: torch.Tensor,
        noise_w: torch.Tensor,
        length_scale: torch.Tensor,
        dur_noise: torch.Tensor,
        sid: torch.Tensor | None,
    ) -> Encoded:
        """Stage 1: text encoder and durations for a padded batch of ids."""
        ...

    def latent(self, enc: Encoded, noise_scale: torch.Tensor, z_noise: torch.Tensor) -> torch.Tensor:
        """Stage 2a: path matrix, prior sample and flows -> masked latent frames [b, c, t_y]."""
        ...

    def vocode(self, z: torch.Tensor, frames: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        """Stage 2b: the decoder over (a window of) latent frames; audio [b, t * hop] on the CPU."""
        ...

    # Optional: runtimes that compile per shape also define
    #   warmup(buckets: BucketConfig, batch_sizes: tuple[int, ...], window_sizes: tuple[int, ...]) -> None
    # which builds every graph for those batch sizes, the bucket edges and the streaming decoder window
    # sizes, so that no request ever triggers a compilation (`Engine.warmup` calls it).

