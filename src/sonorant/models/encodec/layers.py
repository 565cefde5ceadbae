"""The SEANet building blocks of a causal Encodec, each usable whole or streamed.

Every layer's `forward` runs a whole sequence, padding its start as Meta's `SConv1d` does (`pad_start`).
`stream(x, ctx)` runs the next chunk of a sequence given the context the previous chunk left (`ctx=None`:
the first chunk, which is padded exactly as `forward` pads) and returns (output, new context). Chunks only
ever need the past: a causal convolution keeps its last (kernel - 1) * dilation inputs, a causal transposed
convolution the part of its last frame's kernel that overhangs into the next frame, an LSTM its (h, c).

One wrinkle makes the first chunk special. The causal convolutions pad on the left by *reflecting* the
start of their input (Meta's `pad_mode="reflect"`), so the first (kernel - 1) * dilation outputs of each
depend on up to that many later inputs: a stream must hold its first chunk back until every convolution
has (kernel - 1) * dilation + 1 inputs (`stream_start`), or until the stream ends (then the sequence is
short, and a convolution given fewer inputs than its padding first appends zeros, as upstream does).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def pad_start(x: torch.Tensor, left: int, right: int, mode: str) -> torch.Tensor:
    """x [b, c, t] padded by `left` / `right` samples: zeros ("constant") or the mirror image of x without
    its edge sample ("reflect"). A reflection needs t > padding; a shorter x is first extended with zeros on
    the right (and those zeros cut off again), which is what Meta's `pad1d` does."""
    if mode != "reflect":
        return F.pad(x, (left, right))
    t = x.shape[-1]
    grow = max(left, right) - t + 1 if t <= max(left, right) else 0
    if grow:
        x = F.pad(x, (0, grow))
    padded = F.pad(x, (left, right), mode="reflect")  # [b, c, t + grow + left + right]
    return padded[..., : padded.shape[-1] - grow]


def _empty(x: torch.Tensor, channels: int) -> torch.Tensor:
    return x.new_zeros(x.shape[0], channels, 0)


class CausalConv1d(nn.Module):
    """A convolution padded on the left by (kernel - 1) * dilation + 1 - stride samples, plus on the right
    just enough for a whole last window (strided encoder convolutions only)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, dilation: int = 1,
                 pad_mode: str = "reflect") -> None:
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel, stride, dilation=dilation)
        self.span = (kernel - 1) * dilation + 1
        """The kernel's reach in input samples (dilation included)."""
        self.left = self.span - stride
        """Left padding: the inputs each chunk needs from the previous one."""
        self.pad_mode = pad_mode

    def _padded(self, x: torch.Tensor) -> torch.Tensor:
        if self.left == 0 and self.conv.stride[0] == 1:
            return x  # a 1x1 convolution pads nothing
        stride = self.conv.stride[0]
        t = x.shape[-1]
        windows = math.ceil((t - self.span + self.left) / stride + 1)
        right = (windows - 1) * stride + self.span - self.left - t  # 0 when stride is 1
        return pad_start(x, self.left, right, self.pad_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [b, c_in, t] -> [b, c_out, ceil(t / stride)]."""
        return self.conv(self._padded(x))

    def stream(self, x: torch.Tensor, ctx: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The next chunk x [b, c_in, n] (stride 1) -> (y [b, c_out, n], the context for the next chunk)."""
        if ctx is None:
            padded = self._padded(x)  # [b, c_in, left + n]
        elif x.shape[-1] == 0:
            return _empty(x, self.conv.out_channels), ctx
        else:
            padded = torch.cat([ctx, x], dim=-1)
        return self.conv(padded), padded[..., padded.shape[-1] - self.left :]


class CausalConvTranspose1d(nn.Module):
    """Upsampling by `ratio`: a transposed convolution of kernel 2 * ratio with the overhang trimmed off the
    right (Meta's causal `SConvTranspose1d`, trim_right_ratio 1), so output sample j depends on input frames
    j // ratio and the one before it."""

    def __init__(self, c_in: int, c_out: int, ratio: int) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose1d(c_in, c_out, 2 * ratio, ratio)
        self.ratio = ratio

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [b, c_in, t] -> [b, c_out, t * ratio]."""
        y = self.conv(x)  # [b, c_out, (t + 1) * ratio]
        return y[..., : x.shape[-1] * self.ratio]

    def stream(self, x: torch.Tensor, ctx: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The next chunk x [b, c_in, n] -> (y [b, c_out, n * ratio], the overhang of its last frame).

        Written as one matrix product and an overlap-add of the two halves of each frame's kernel: the
        CPU's transposed convolution takes a slow path on a few frames (seven times slower here)."""
        b, c_in, n = x.shape
        c_out, r = self.conv.out_channels, self.ratio
        if ctx is None:
            ctx = x.new_zeros(b, 1, c_out, r)
        if n == 0:
            return _empty(x, c_out), ctx
        w = self.conv.weight.reshape(c_in, c_out * 2 * r)  # [c_in, c_out 2 r]
        cols = torch.matmul(x.transpose(1, 2), w).view(b, n, c_out, 2, r)  # [b, n, c_out, 2, r]
        head, tail = cols[:, :, :, 0], cols[:, :, :, 1]  # [b, n, c_out, r]: frame j's and frame j + 1's part
        y = head + torch.cat([ctx, tail[:, :-1]], dim=1)  # [b, n, c_out, r]
        y = y.permute(0, 2, 1, 3).reshape(b, c_out, n * r) + self.conv.bias[None, :, None]
        return y, tail[:, -1:]


class ResidualBlock(nn.Module):
    """elu -> conv(kernel, dilation) to dim // compress -> elu -> 1x1 conv back, plus a 1x1-conv (or identity)
    skip."""

    def __init__(self, dim: int, kernel: int, dilation: int, compress: int, conv_shortcut: bool,
                 pad_mode: str) -> None:
        super().__init__()
        hidden = dim // compress
        self.conv1 = CausalConv1d(dim, hidden, kernel, dilation=dilation, pad_mode=pad_mode)
        self.conv2 = CausalConv1d(hidden, dim, 1, pad_mode=pad_mode)
        self.shortcut = CausalConv1d(dim, dim, 1, pad_mode=pad_mode) if conv_shortcut else None

    def _skip(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.shortcut is None else self.shortcut(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [b, dim, t] -> [b, dim, t]."""
        return self._skip(x) + self.conv2(F.elu(self.conv1(F.elu(x))))

    def stream(self, x: torch.Tensor, ctx: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The next chunk (only conv1 has a context; 1x1 convolutions need none)."""
        h, ctx = self.conv1.stream(F.elu(x), ctx)
        return self._skip(x) + self.conv2(F.elu(h)), ctx


class SkipLSTM(nn.Module):
    """A multi-layer LSTM over time with its input added to its output (Meta's `SLSTM`, skip on)."""

    def __init__(self, dim: int, layers: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(dim, dim, layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [b, c, t] -> [b, c, t]."""
        seq = x.permute(2, 0, 1)  # [t, b, c]
        return (self.lstm(seq)[0] + seq).permute(1, 2, 0)

    def stream(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None
               ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        """The next chunk x [b, c, n] and the (h, c) the previous one ended with ([layers, b, c] each; None:
        zeros) -> (y [b, c, n], the new (h, c)).

        The recurrence is written out step by step with the module's own weights: `nn.LSTM` on the CPU
        (oneDNN) costs tens of milliseconds per call whatever its length, which a stream of short chunks
        pays on every chunk; this costs the same per step however the steps are chunked."""
        if x.shape[-1] == 0:
            return x, state
        seq = x.permute(2, 0, 1)  # [n, b, c]
        n, b, c = seq.shape
        if state is None:
            zeros = seq.new_zeros(self.lstm.num_layers, b, c)
            state = (zeros, zeros)
        y, hs, cs = seq, [], []
        for layer in range(self.lstm.num_layers):
            w_ih, w_hh = getattr(self.lstm, f"weight_ih_l{layer}"), getattr(self.lstm, f"weight_hh_l{layer}")
            bias = getattr(self.lstm, f"bias_ih_l{layer}") + getattr(self.lstm, f"bias_hh_l{layer}")
            gates_in = torch.addmm(bias, y.reshape(n * b, c), w_ih.t()).view(n, b, 4 * c)  # [n, b, 4 c]
            h, cell = state[0][layer], state[1][layer]  # [b, c]
            outs = []
            for t in range(n):
                i, f, g, o = torch.addmm(gates_in[t], h, w_hh.t()).chunk(4, dim=1)  # [b, c] each
                cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(cell)
                outs.append(h)
            y = torch.stack(outs)  # [n, b, c]
            hs.append(h)
            cs.append(cell)
        return (y + seq).permute(1, 2, 0), (torch.stack(hs), torch.stack(cs))
