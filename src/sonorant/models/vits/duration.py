"""Duration predictors: the stochastic one (spline flows over noise) and the deterministic one.

The inverse rational-quadratic spline is written for static graphs: every element is transformed
(inputs clamped into range first), bins are located by counting with comparisons, and `where`
keeps the identity outside the tails, so no boolean-mask scatter or data-dependent shape appears.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .config import VitsConfig
from .layers import LayerNorm, same_conv

_MIN_BIN = 1e-3
_MIN_DERIVATIVE = 1e-3


class DDSConv(nn.Module):
    """Dilated depth-separable convolutions with residual connections (dilation kernel**i)."""

    def __init__(self, channels: int, kernel_size: int, n_layers: int) -> None:
        super().__init__()
        self.convs_sep = nn.ModuleList(
            same_conv(channels, channels, kernel_size, dilation=kernel_size**i, groups=channels) for i in range(n_layers)
        )
        self.convs_1x1 = nn.ModuleList(nn.Conv1d(channels, channels, 1) for _ in range(n_layers))
        self.norms_1 = nn.ModuleList(LayerNorm(channels) for _ in range(n_layers))
        self.norms_2 = nn.ModuleList(LayerNorm(channels) for _ in range(n_layers))

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, g: torch.Tensor | None = None) -> torch.Tensor:
        if g is not None:
            x = x + g
        for sep, norm_1, conv, norm_2 in zip(self.convs_sep, self.norms_1, self.convs_1x1, self.norms_2):
            y = F.gelu(norm_1(sep(x * x_mask)))  # [b, c, t]
            y = F.gelu(norm_2(conv(y)))  # [b, c, t]
            x = x + y
        return x * x_mask


def _bin_edges(unnormalized: torch.Tensor, low: float, high: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax bin sizes -> (edges [..., n+1] from low to high, sizes [..., n])."""
    n = unnormalized.shape[-1]
    sizes = _MIN_BIN + (1 - _MIN_BIN * n) * torch.softmax(unnormalized, dim=-1)
    edges = F.pad(torch.cumsum(sizes, dim=-1), (1, 0))  # [..., n+1]
    edges = (high - low) * edges + low
    edges = torch.cat([torch.full_like(edges[..., :1], low), edges[..., 1:-1], torch.full_like(edges[..., :1], high)], -1)
    return edges, edges[..., 1:] - edges[..., :-1]


def inverse_spline(
    y: torch.Tensor, widths_u: torch.Tensor, heights_u: torch.Tensor, derivs_u: torch.Tensor, bound: float
) -> torch.Tensor:
    """Inverse of a monotonic rational-quadratic spline on [-bound, bound], identity outside.

    y: [...]; widths_u, heights_u: [..., n]; derivs_u: [..., n-1] (inner knots; the outer two are fixed
    so the spline meets the identity tails with slope 1).
    """
    inside = (y >= -bound) & (y <= bound)
    yc = y.clamp(-bound, bound)
    cw, widths = _bin_edges(widths_u, -bound, bound)  # [..., n+1], [..., n]
    ch, heights = _bin_edges(heights_u, -bound, bound)
    edge_const = math.log(math.exp(1 - _MIN_DERIVATIVE) - 1)
    derivs_u = F.pad(derivs_u, (1, 1), value=edge_const)  # [..., n+1]
    derivs = _MIN_DERIVATIVE + F.softplus(derivs_u)

    n = widths.shape[-1]
    search = torch.cat([ch[..., :-1], ch[..., -1:] + 1e-6], dim=-1)  # [..., n+1]
    idx = (yc.unsqueeze(-1) >= search).sum(dim=-1, keepdim=True) - 1  # [..., 1]
    idx = idx.clamp(0, n - 1)

    def pick(t: torch.Tensor) -> torch.Tensor:
        return torch.gather(t, -1, idx).squeeze(-1)

    x_left, bin_w = pick(cw), pick(widths)
    y_low, bin_h = pick(ch), pick(heights)
    delta = pick(heights / widths)
    d0, d1 = pick(derivs), pick(derivs[..., 1:])

    dy = yc - y_low
    slope_sum = d0 + d1 - 2 * delta
    a = dy * slope_sum + bin_h * (delta - d0)
    b = bin_h * d0 - dy * slope_sum
    c = -delta * dy
    disc = b.pow(2) - 4 * a * c
    root = (2 * c) / (-b - torch.sqrt(disc))
    x = root * bin_w + x_left
    return torch.where(inside, x, y)


class ElementwiseAffine(nn.Module):
    """z -> m + exp(logs) * z per channel; inference runs its inverse."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.m = nn.Parameter(torch.zeros(channels, 1))
        self.logs = nn.Parameter(torch.zeros(channels, 1))

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        """The inference direction (`reverse`); calling the module keeps its name in traced/exported graphs."""
        return self.reverse(x, x_mask)

    def reverse(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        return (x - self.m) * torch.exp(-self.logs) * x_mask


class ConvFlow(nn.Module):
    """Spline coupling: the second channel is transformed by a spline predicted from the first."""

    def __init__(self, filter_channels: int, kernel_size: int, n_layers: int, num_bins: int, tail_bound: float) -> None:
        super().__init__()
        self.filter_channels = filter_channels
        self.num_bins = num_bins
        self.tail_bound = tail_bound
        self.pre = nn.Conv1d(1, filter_channels, 1)
        self.convs = DDSConv(filter_channels, kernel_size, n_layers)
        self.proj = nn.Conv1d(filter_channels, num_bins * 3 - 1, 1)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """The inference direction (`reverse`); calling the module keeps its name in traced/exported graphs."""
        return self.reverse(x, x_mask, g)

    def reverse(self, x: torch.Tensor, x_mask: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        x0, x1 = x[:, :1], x[:, 1:]  # [b, 1, t] each
        h = self.convs(self.pre(x0), x_mask, g=g)
        h = (self.proj(h) * x_mask).transpose(1, 2).unsqueeze(1)  # [b, 1, t, 3n-1]
        scale = math.sqrt(self.filter_channels)
        n = self.num_bins
        x1 = inverse_spline(x1, h[..., :n] / scale, h[..., n : 2 * n] / scale, h[..., 2 * n :], self.tail_bound)
        return torch.cat([x0, x1], 1) * x_mask


class StochasticDurationPredictor(nn.Module):
    """Log-durations from hidden states by inverting a normalizing flow over (scaled) noise."""

    def __init__(self, cfg: VitsConfig) -> None:
        super().__init__()
        fc = cfg.dp_filter_channels
        self.pre = nn.Conv1d(cfg.hidden_channels, fc, 1)
        self.convs = DDSConv(fc, cfg.dp_kernel_size, cfg.dp_n_layers)
        self.proj = nn.Conv1d(fc, fc, 1)
        # Index layout of the trained model: 0 affine, then (spline flow, flip) pairs.
        # The first spline flow only matters in training, so inference keeps an empty slot for it.
        flows: list[nn.Module] = [ElementwiseAffine(2)]
        for i in range(cfg.dp_n_flows):
            spline = ConvFlow(fc, cfg.dp_kernel_size, cfg.dp_n_layers, cfg.dp_num_bins, cfg.dp_tail_bound)
            flows.append(nn.Identity() if i == 0 else spline)
            flows.append(nn.Identity())  # channel flip; parameter-free
        self.flows = nn.ModuleList(flows)
        if cfg.gin_channels:
            self.cond = nn.Conv1d(cfg.gin_channels, fc, 1)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, noise: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        """x: [b, h, t]; noise: [b, 2, t] already scaled by noise_w. Returns log-durations [b, 1, t]."""
        x = self.pre(x)
        if g is not None:
            x = x + self.cond(g)
        x = self.proj(self.convs(x, x_mask)) * x_mask  # [b, f, t]
        z = noise
        # Inverse pass: flips and spline flows from last to first; the first spline flow is unused.
        for i in range(len(self.flows) - 1, 0, -1):
            if i % 2 == 0:
                z = torch.flip(z, [1])
            elif i > 1:
                z = self.flows[i](z, x_mask, g=x)
        z = self.flows[0](z, x_mask)
        return z[:, :1]


class DurationPredictor(nn.Module):
    """Deterministic log-duration regressor (VITS without the stochastic predictor)."""

    def __init__(self, cfg: VitsConfig) -> None:
        super().__init__()
        fc, k = cfg.dp_filter_channels, cfg.dp_kernel_size
        self.conv_1 = same_conv(cfg.hidden_channels, fc, k)
        self.norm_1 = LayerNorm(fc)
        self.conv_2 = same_conv(fc, fc, k)
        self.norm_2 = LayerNorm(fc)
        self.proj = nn.Conv1d(fc, 1, 1)
        if cfg.gin_channels:
            self.cond = nn.Conv1d(cfg.gin_channels, cfg.hidden_channels, 1)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, noise: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        """x: [b, h, t]; noise is ignored (kept for a common signature). Returns [b, 1, t]."""
        if g is not None:
            x = x + self.cond(g)
        x = self.norm_1(torch.relu(self.conv_1(x * x_mask)))
        x = self.norm_2(torch.relu(self.conv_2(x * x_mask)))
        return self.proj(x * x_mask) * x_mask
