"""HiFi-GAN generator: frames (VITS latents or mel bins) -> waveform, every convolution's input masked.

Masking each convolution's input by the row's length makes a padded utterance produce exactly the
samples it would produce alone: positions past its length are zero, as the zero padding of an unpadded
run would be. Residual blocks are numbered flat (`resblocks.{stage * n_kernels + j}`), as in VITS and
Piper voices; NeMo's nested `resblocks.{stage}.{j}` keys are renumbered by its loader.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .generator_config import GeneratorConfig

LRELU_SLOPE = 0.1
"""Leaky ReLU slope inside the generator (the one before conv_post uses torch's default, 0.01)."""


def same_conv(in_ch: int, out_ch: int, kernel: int, dilation: int = 1, bias: bool = True) -> nn.Conv1d:
    """A Conv1d whose output has the input's length (odd kernels)."""
    return nn.Conv1d(in_ch, out_ch, kernel, dilation=dilation, padding=(kernel * dilation - dilation) // 2, bias=bias)


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
    """Dilated convs with leaky ReLUs and residual adds (the lighter block of Piper and NeMo's v3)."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(same_conv(channels, channels, kernel_size, dilation=d) for d in dilations)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        for conv in self.convs:
            x = x + conv(_masked(F.leaky_relu(x, LRELU_SLOPE), mask))
        return x


class Generator(nn.Module):
    """Upsampling stack: conv_pre, (leaky ReLU, transposed conv, mean of residual blocks) x N, conv_post, tanh."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        ch = cfg.upsample_initial_channel
        self.num_kernels = len(cfg.resblock_kernel_sizes)
        self.upsample_rates = tuple(cfg.upsample_rates)
        self.conv_pre = same_conv(cfg.in_channels, ch, 7)
        block = ResBlock1 if cfg.resblock == "1" else ResBlock2
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        for i, (rate, kernel) in enumerate(zip(cfg.upsample_rates, cfg.upsample_kernel_sizes)):
            c_in, c_out = ch // 2**i, ch // 2 ** (i + 1)
            self.ups.append(nn.ConvTranspose1d(c_in, c_out, kernel, rate, padding=(kernel - rate) // 2))
            for k, d in zip(cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes):
                self.resblocks.append(block(c_out, k, tuple(d)))
        self.conv_post = same_conv(cfg.out_channels, 1, 7, bias=cfg.post_bias)
        if cfg.cond_channels:
            self.cond = nn.Conv1d(cfg.cond_channels, ch, 1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None, g: torch.Tensor | None = None) -> torch.Tensor:
        """x: [b, c, t] frames, lengths: [b] valid frames. Returns audio [b, t * hop].

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
        x = self.conv_post(_masked(F.leaky_relu(x), mask))  # [b, 1, T]; leaky ReLU slope 0.01 here
        return torch.tanh(x).reshape(b, -1)


def _masked(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """x with padded positions zeroed (x itself when there is no padding)."""
    return x if mask is None else x * mask
