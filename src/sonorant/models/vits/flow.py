"""Residual coupling flows (WaveNet-conditioned, mean-only) that map prior samples to the latent z."""

from __future__ import annotations

import torch
from torch import nn

from .config import VitsConfig
from .layers import same_conv


class WaveNet(nn.Module):
    """Non-causal WaveNet: gated dilated convolutions with residual and skip outputs."""

    def __init__(self, hidden: int, kernel_size: int, dilation_rate: int, n_layers: int, gin_channels: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.in_layers = nn.ModuleList(
            same_conv(hidden, 2 * hidden, kernel_size, dilation=dilation_rate**i) for i in range(n_layers)
        )
        self.res_skip_layers = nn.ModuleList(
            nn.Conv1d(hidden, 2 * hidden if i < n_layers - 1 else hidden, 1) for i in range(n_layers)
        )
        if gin_channels:
            self.cond_layer = nn.Conv1d(gin_channels, 2 * hidden * n_layers, 1)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        h = self.hidden
        g_all = self.cond_layer(g) if g is not None else None  # [b, 2h*L, 1]
        output = torch.zeros_like(x)
        last = len(self.in_layers) - 1
        for i, (conv_in, conv_rs) in enumerate(zip(self.in_layers, self.res_skip_layers)):
            a = conv_in(x)  # [b, 2h, t]
            if g_all is not None:
                a = a + g_all[:, i * 2 * h : (i + 1) * 2 * h]
            acts = torch.tanh(a[:, :h]) * torch.sigmoid(a[:, h:])  # [b, h, t]
            rs = conv_rs(acts)
            if i < last:
                x = (x + rs[:, :h]) * x_mask
                output = output + rs[:, h:]
            else:
                output = output + rs
        return output * x_mask


class ResidualCouplingLayer(nn.Module):
    """Mean-only affine coupling: the second half is shifted by a WaveNet of the first half."""

    def __init__(self, cfg: VitsConfig) -> None:
        super().__init__()
        self.half = cfg.inter_channels // 2
        self.pre = nn.Conv1d(self.half, cfg.flow_hidden_channels, 1)
        self.enc = WaveNet(cfg.flow_hidden_channels, cfg.flow_kernel_size, cfg.flow_dilation_rate, cfg.flow_n_layers,
                           cfg.gin_channels)
        self.post = nn.Conv1d(cfg.flow_hidden_channels, self.half, 1)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        """The inference direction (`reverse`); calling the module keeps its name in traced/exported graphs."""
        return self.reverse(x, x_mask, g)

    def reverse(self, x: torch.Tensor, x_mask: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        x0, x1 = x[:, : self.half], x[:, self.half :]  # [b, c/2, t] each
        h = self.enc(self.pre(x0) * x_mask, x_mask, g)
        m = self.post(h) * x_mask
        return torch.cat([x0, (x1 - m) * x_mask], 1)


class ResidualCouplingBlock(nn.Module):
    """A stack of coupling layers, each followed by a channel flip (slots 1, 3, ... hold the flips)."""

    def __init__(self, cfg: VitsConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(cfg.n_flows):
            layers.append(ResidualCouplingLayer(cfg))
            layers.append(nn.Identity())  # channel flip
        self.flows = nn.ModuleList(layers)

    def forward(self, z: torch.Tensor, y_mask: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        """The inference direction (`reverse`); calling the module keeps its name in traced/exported graphs."""
        return self.reverse(z, y_mask, g)

    def reverse(self, z: torch.Tensor, y_mask: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        for i in range(len(self.flows) - 1, -1, -1):
            z = torch.flip(z, [1]) if i % 2 else self.flows[i](z, y_mask, g)
        return z
