"""Small building blocks shared by the VITS modules: masks, channel-first layer norm, same-padded convs."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def sequence_mask(lengths: torch.Tensor, max_length: int | torch.Tensor) -> torch.Tensor:
    """Boolean mask [b, t]: position < length. `max_length` may be a 0-d tensor (traced dynamically)."""
    positions = torch.arange(max_length, device=lengths.device)  # [t]
    return positions.unsqueeze(0) < lengths.unsqueeze(1)  # [b, t]


class LayerNorm(nn.Module):
    """Layer norm over the channel axis of a [b, c, t] tensor (parameters named gamma/beta as in VITS)."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.channels = channels
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, -1)  # [b, t, c]
        x = F.layer_norm(x, (self.channels,), self.gamma, self.beta, self.eps)
        return x.transpose(1, -1)  # [b, c, t]


def same_conv(in_ch: int, out_ch: int, kernel: int, dilation: int = 1, groups: int = 1, bias: bool = True) -> nn.Conv1d:
    """A Conv1d whose output has the input's length (odd kernels)."""
    return nn.Conv1d(in_ch, out_ch, kernel, dilation=dilation, padding=(kernel * dilation - dilation) // 2,
                     groups=groups, bias=bias)
