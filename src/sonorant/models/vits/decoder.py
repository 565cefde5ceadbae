"""HiFi-GAN generator: latent frames -> waveform, with every convolution's input masked (when padded).

Masking each convolution's input makes a padded utterance produce exactly the samples it would
produce alone: positions past its length are zero, as the zero padding of an unpadded run would be.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .config import VitsConfig
from .layers import same_conv

LRELU_SLOPE = 0.1


class ResBlock1(nn.Module):
    """Pairs of (dilated conv, plain conv) with leaky ReLUs and residual adds."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(same_conv(channels, channels, kernel_size, dilation=d) for d in dilations)
        self.convs2 = nn.ModuleList(same_conv(channels, channels, kernel_size) for _ in dilations)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2):
            xt = c1(_masked(F.leaky_relu(x, LRELU_SLOPE), mask))
            xt = c2(_masked(F.leaky_relu(xt, LRELU_SLOPE), mask))
            x = x + xt
        return x


class ResBlock2(nn.Module):
    """Dilated convs with leaky ReLUs and residual adds (Piper's lighter block)."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(same_conv(channels, channels, kernel_size, dilation=d) for d in dilations)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        for conv in self.convs:
            x = x + conv(_masked(F.leaky_relu(x, LRELU_SLOPE), mask))
        return x


class Generator(nn.Module):
    """Upsampling stack: conv_pre, (leaky ReLU, transposed conv, mean of residual blocks) x N, conv_post."""

    def __init__(self, cfg: VitsConfig) -> None:
        super().__init__()
        ch = cfg.upsample_initial_channel
        self.num_kernels = len(cfg.resblock_kernel_sizes)
        self.upsample_rates = tuple(cfg.upsample_rates)
        self.conv_pre = same_conv(cfg.inter_channels, ch, 7)
        block = ResBlock1 if cfg.resblock == "1" else ResBlock2
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        for i, (rate, kernel) in enumerate(zip(cfg.upsample_rates, cfg.upsample_kernel_sizes)):
            c_in, c_out = ch // 2**i, ch // 2 ** (i + 1)
            self.ups.append(nn.ConvTranspose1d(c_in, c_out, kernel, rate, padding=(kernel - rate) // 2))
            for k, d in zip(cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes):
                self.resblocks.append(block(c_out, k, tuple(d)))
        self.conv_post = same_conv(ch // 2 ** len(cfg.upsample_rates), 1, 7, bias=False)
        if cfg.gin_channels:
            self.cond = nn.Conv1d(cfg.gin_channels, ch, 1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None, g: torch.Tensor | None = None) -> torch.Tensor:
        """x: [b, c, t] latent frames, lengths: [b] valid frames. Returns audio [b, t * hop].

        `lengths=None` means no padding (every row has all t frames valid): the masks are then all ones
        and are skipped, which gives the same samples with less memory traffic. x may also carry unit
        axes between channels and time ([b, c, 1, t]) for a runtime that swaps in 2-D convolutions.
        """
        b, t = x.shape[0], x.shape[-1]
        unit = [1] * (x.dim() - 2)  # singleton axes of a mask: [b, 1, (1,) t]
        mask = None
        if lengths is not None:
            pos = torch.arange(t, device=x.device)
            mask = (pos.unsqueeze(0) < lengths.unsqueeze(1)).to(x.dtype).view(b, *unit, t)  # [b, 1, t]
            x = x * mask
        x = self.conv_pre(x)
        if g is not None:
            x = x + self.cond(g.view(*g.shape[:2], *unit[1:], 1))
        for i, up in enumerate(self.ups):
            x = up(_masked(F.leaky_relu(x, LRELU_SLOPE), mask))  # [b, c', t * r]
            if mask is not None:
                rate = self.upsample_rates[i]
                mask = mask.unsqueeze(-1).expand(*mask.shape, rate).reshape(b, *unit, -1)
            blocks = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
            acc = blocks[0](x, mask)
            for blk in blocks[1:]:
                acc = acc + blk(x, mask)
            x = acc / self.num_kernels
        x = self.conv_post(_masked(F.leaky_relu(x), mask))  # [b, 1, T]
        return torch.tanh(x).reshape(b, -1)


def _masked(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """x with padded positions zeroed (x itself when there is no padding)."""
    return x if mask is None else x * mask
