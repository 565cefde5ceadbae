"""VITS's three stages with the family contract's signatures (`models.base`): thin views of `Vits`."""

from __future__ import annotations

import torch
from torch import nn

from ..common.regulate import FramesStage
from .model import Vits

_LENGTH, _NOISE, _NOISE_W = 0, 1, 2  # knob columns (`spec.KNOBS`)


class EncodeStage(nn.Module):
    """ids -> (prior statistics as one token tensor, durations, frames[, g])."""

    def __init__(self, model: Vits) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor, knobs: torch.Tensor, noise: torch.Tensor,
                sid: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        e = self.model.encode(ids, lengths, knobs[:, _NOISE_W], knobs[:, _LENGTH], noise, sid)
        tokens = torch.cat([e.m_p, e.logs_p], dim=1)  # [b, 2c, t_x]
        return (tokens, e.durations, e.frames) + (() if e.g is None else (e.g,))


class PriorFlows(nn.Module):
    """After length regulation: prior sample and inverse flows -> latent frames [b, c, t_y]."""

    def __init__(self, model: Vits) -> None:
        super().__init__()
        self.model = model

    def forward(self, stats: torch.Tensor, mask: torch.Tensor, knobs: torch.Tensor, noise: torch.Tensor,
                g: torch.Tensor | None = None) -> torch.Tensor:
        return self.model.prior_flows(stats, mask, knobs[:, _NOISE], noise, g)  # [b, c, t_y]


class VocodeStage(nn.Module):
    """The HiFi-GAN decoder: latent frames -> samples."""

    def __init__(self, model: Vits) -> None:
        super().__init__()
        self.dec = model.dec

    def forward(self, z: torch.Tensor, lengths: torch.Tensor | None = None,
                g: torch.Tensor | None = None) -> torch.Tensor:
        return self.dec(z, lengths, g=g)  # [b, t * hop]


def vits_stages(model: Vits) -> dict[str, nn.Module]:
    """The contract's stage modules over `model`'s parameters (`frames_post` is `frames` after its length
    regulation, for runtimes that regulate elsewhere)."""
    post = PriorFlows(model)
    return {"encode": EncodeStage(model), "frames": FramesStage(post), "frames_post": post,
            "vocode": VocodeStage(model)}
