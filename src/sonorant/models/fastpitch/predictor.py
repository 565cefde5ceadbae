"""FastPitch's temporal predictors (durations, pitch, energy): one float per token."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .config import PredictorConfig


class ConvReLUNorm(nn.Module):
    """Conv1d, ReLU, layer norm over channels (NeMo's `ConvReLUNorm`: `conv`, `norm`)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.norm = nn.LayerNorm(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [b, c, t] -> [b, c', t]."""
        out = F.relu(self.conv(x))
        return self.norm(out.transpose(1, 2)).transpose(1, 2)


class TemporalPredictor(nn.Module):
    """Conv-ReLU-norm layers and a linear head (`layers.N.{conv,norm}`, `fc`), zero where masked."""

    def __init__(self, d_model: int, cfg: PredictorConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            ConvReLUNorm(d_model if i == 0 else cfg.filter_size, cfg.filter_size, cfg.kernel_size)
            for i in range(cfg.n_layers)
        )
        self.fc = nn.Linear(cfg.filter_size, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, spk: torch.Tensor | None = None) -> torch.Tensor:
        """x [b, t, d], mask [b, t, 1], spk [b, 1, d] (added to x) or None. Returns [b, t]."""
        if spk is not None:
            x = x + spk
        m = mask.transpose(1, 2)  # [b, 1, t]
        out = x.transpose(1, 2)  # [b, d, t]
        for layer in self.layers:
            out = layer(out * m)  # each conv's input masked: a padded row equals the row alone
        out = self.fc(out.transpose(1, 2)) * mask  # [b, t, 1]
        return out.squeeze(-1)
