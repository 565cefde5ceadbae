"""SEANet encoder and decoder of a causal Encodec, and its residual vector quantizer.

Module names are sonorant's own; `voices.encodec` maps Meta's and transformers' checkpoint keys onto them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .config import EncodecConfig
from .layers import CausalConv1d, CausalConvTranspose1d, ResidualBlock, SkipLSTM


def _res_blocks(cfg: EncodecConfig, dim: int) -> nn.ModuleList:
    return nn.ModuleList(
        ResidualBlock(dim, cfg.residual_kernel_size, cfg.dilation_base**j, cfg.compress, cfg.conv_shortcut,
                      cfg.pad_mode)
        for j in range(cfg.n_residual_layers))


class UpStage(nn.Module):
    """elu -> causal transposed conv (kernel 2 * ratio, stride ratio, halving the channels) -> residual blocks."""

    def __init__(self, cfg: EncodecConfig, c_in: int, ratio: int) -> None:
        super().__init__()
        self.up = CausalConvTranspose1d(c_in, c_in // 2, ratio)
        self.res = _res_blocks(cfg, c_in // 2)


class DownStage(nn.Module):
    """residual blocks -> elu -> causal strided conv (kernel 2 * ratio, stride ratio, doubling the channels)."""

    def __init__(self, cfg: EncodecConfig, c_in: int, ratio: int) -> None:
        super().__init__()
        self.res = _res_blocks(cfg, c_in)
        self.down = CausalConv1d(c_in, 2 * c_in, 2 * ratio, stride=ratio, pad_mode=cfg.pad_mode)


class SeanetDecoder(nn.Module):
    """Latent frames [b, dimension, t] -> audio [b, 1, t * hop]: conv -> LSTM (+ skip) -> the upsampling
    stages -> elu -> conv."""

    def __init__(self, cfg: EncodecConfig) -> None:
        super().__init__()
        chans = cfg.decoder_channels()
        self.conv_in = CausalConv1d(cfg.dimension, chans[0], cfg.kernel_size, pad_mode=cfg.pad_mode)
        self.lstm = SkipLSTM(chans[0], cfg.lstm_layers) if cfg.lstm_layers else None
        self.stages = nn.ModuleList(UpStage(cfg, c, r) for c, r in zip(chans, cfg.ratios))
        self.conv_out = CausalConv1d(chans[-1], 1, cfg.last_kernel_size, pad_mode=cfg.pad_mode)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z [b, dimension, t] -> audio [b, 1, t * hop]."""
        x = self.conv_in(z)  # [b, 16 f, t]
        if self.lstm is not None:
            x = self.lstm(x)
        for stage in self.stages:
            x = stage.up(F.elu(x))  # [b, c / 2, t * ratio]
            for block in stage.res:
                x = block(x)
        return self.conv_out(F.elu(x))  # [b, 1, t * hop]

    def stream(self, z: torch.Tensor, state: dict[str, Any] | None) -> tuple[torch.Tensor, dict[str, Any]]:
        """The next chunk z [b, dimension, n] -> (audio [b, 1, n * hop], the state for the next chunk).
        `state` None starts a stream: the chunk is then padded as `forward` pads (see `layers`)."""
        first = state is None
        new: dict[str, Any] = {}

        def ctx(name: str) -> Any:
            return None if first else state[name]

        x, new["conv_in"] = self.conv_in.stream(z, ctx("conv_in"))
        if self.lstm is not None:
            x, new["lstm"] = self.lstm.stream(x, ctx("lstm"))
        for i, stage in enumerate(self.stages):
            x, new[f"up{i}"] = stage.up.stream(F.elu(x), ctx(f"up{i}"))
            for j, block in enumerate(stage.res):
                x, new[f"res{i}.{j}"] = block.stream(x, ctx(f"res{i}.{j}"))
        y, new["conv_out"] = self.conv_out.stream(F.elu(x), ctx("conv_out"))
        return y, new

    def start_frames(self, cfg: EncodecConfig) -> int:
        """Code frames a stream holds back before its first audio: each reflect-padded convolution must see
        (kernel - 1) * dilation + 1 inputs in its first chunk (7 frames for the 24 kHz model; 1 for zeros)."""
        if cfg.pad_mode != "reflect":
            return 1
        need = self.conv_in.left + 1  # at the frame rate
        rate = 1
        for stage, ratio in zip(self.stages, cfg.ratios):
            rate *= ratio
            for block in stage.res:
                need = max(need, -(-(block.conv1.left + 1) // rate))
        return max(need, -(-(self.conv_out.left + 1) // rate))


class SeanetEncoder(nn.Module):
    """Audio [b, 1, n] -> latent frames [b, dimension, ceil(n / hop)]: conv -> the downsampling stages ->
    LSTM (+ skip) -> elu -> conv."""

    def __init__(self, cfg: EncodecConfig) -> None:
        super().__init__()
        chans = list(reversed(cfg.decoder_channels()))  # f, 2 f, ..., 16 f
        self.conv_in = CausalConv1d(1, chans[0], cfg.kernel_size, pad_mode=cfg.pad_mode)
        self.stages = nn.ModuleList(DownStage(cfg, c, r) for c, r in zip(chans, reversed(cfg.ratios)))
        self.lstm = SkipLSTM(chans[-1], cfg.lstm_layers) if cfg.lstm_layers else None
        self.conv_out = CausalConv1d(chans[-1], cfg.dimension, cfg.last_kernel_size, pad_mode=cfg.pad_mode)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """audio [b, 1, n] -> z [b, dimension, ceil(n / hop)]."""
        x = self.conv_in(audio)  # [b, f, n]
        for stage in self.stages:
            for block in stage.res:
                x = block(x)
            x = stage.down(F.elu(x))  # [b, 2 c, ceil(t / ratio)]
        if self.lstm is not None:
            x = self.lstm(x)
        return self.conv_out(F.elu(x))


class ResidualVQ(nn.Module):
    """The residual vector quantizer: K codebooks [bins, dimension]; a frame's latent is the sum of its K codes'
    entries."""

    def __init__(self, cfg: EncodecConfig) -> None:
        super().__init__()
        self.register_buffer("codebooks", torch.zeros(cfg.n_q, cfg.bins, cfg.dimension))  # [n_q, bins, d]

    def embed(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [b, K, t] (K <= n_q, each in [0, bins)) -> latents [b, dimension, t], summed in codebook order."""
        z = F.embedding(codes[:, 0], self.codebooks[0])  # [b, t, d]
        for k in range(1, codes.shape[1]):
            z = z + F.embedding(codes[:, k], self.codebooks[k])
        return z.transpose(1, 2)

    def encode(self, z: torch.Tensor, k: int) -> torch.Tensor:
        """latents [b, dimension, t] -> codes [b, k, t]: at each step the code nearest (Euclidean) to what the
        previous steps left, which is then subtracted."""
        b, d, t = z.shape
        residual = z.transpose(1, 2).reshape(b * t, d)  # [b t, d]
        codes = []
        for book in self.codebooks[:k]:  # [bins, d]
            dist = residual.pow(2).sum(1, keepdim=True) - 2 * residual @ book.t() + book.pow(2).sum(1)[None]
            idx = dist.argmin(dim=1)  # [b t]
            residual = residual - F.embedding(idx, book)
            codes.append(idx.view(b, t))
        return torch.stack(codes, dim=1)  # [b, k, t]
