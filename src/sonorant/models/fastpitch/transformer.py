"""FastPitch's feed-forward transformer (FFT) blocks, with NeMo's parameter names and maths.

Layout is [b, t, d] (NeMo's): the linear layers act on the last axis. Every convolution's input is
masked, so a padded row gives exactly what it gives alone (NeMo's own batches leak a few positions of
padding through the convolutions; an unpadded row is unaffected by the masks, hence equals NeMo's).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .config import FFTConfig


class PositionalEmbedding(nn.Module):
    """Sinusoids `cat(sin(p * f), cos(p * f))` over half the channels each (not interleaved)."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        inv_freq = 1 / (10000 ** (torch.arange(0.0, d_model, 2.0) / d_model))  # [d/2], as NeMo computes it
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, t: int, dtype: torch.dtype) -> torch.Tensor:
        """The embedding of positions 0..t-1: [1, t, d]."""
        pos = torch.arange(t, device=self.inv_freq.device).to(dtype)  # [t]
        arg = torch.matmul(pos.unsqueeze(-1), self.inv_freq.to(dtype).unsqueeze(0))  # [t, d/2]
        return torch.cat([arg.sin(), arg.cos()], dim=1).unsqueeze(0)  # [1, t, d]


class MultiHeadAttn(nn.Module):
    """Self-attention over unmasked keys, a residual add and a layer norm (after, or before with pre_lnorm)."""

    def __init__(self, d_model: int, cfg: FFTConfig) -> None:
        super().__init__()
        self.n_head, self.d_head = cfg.n_head, cfg.d_head
        self.scale = 1 / (cfg.d_head**0.5)
        self.pre_lnorm = cfg.pre_lnorm
        self.qkv_net = nn.Linear(d_model, 3 * cfg.n_head * cfg.d_head)
        self.o_net = nn.Linear(cfg.n_head * cfg.d_head, d_model, bias=False)
        self.layer_norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x [b, t, d], mask [b, t, 1] (1 = valid). Returns [b, t, d]."""
        b, t, _ = x.shape
        h = self.layer_norm(x) if self.pre_lnorm else x
        qkv = self.qkv_net(h).view(b, t, 3, self.n_head, self.d_head).permute(2, 0, 3, 1, 4)  # [3, b, h, t, dh]
        q, k, v = qkv[0], qkv[1], qkv[2]
        score = torch.matmul(q, k.transpose(-1, -2)) * self.scale  # [b, h, t, t]
        keys = mask.transpose(1, 2).unsqueeze(1) > 0  # [b, 1, 1, t]
        # The dtype's lowest value, not -inf: the same weights wherever one key is valid, and no NaN in a
        # row without any (an empty padding row of a batch).
        score = score.masked_fill(~keys, torch.finfo(score.dtype).min)
        prob = F.softmax(score, dim=-1)
        vec = torch.matmul(prob, v).transpose(1, 2).reshape(b, t, self.n_head * self.d_head)  # [b, t, h * dh]
        out = self.o_net(vec)
        return x + out if self.pre_lnorm else self.layer_norm(x + out)


class PositionwiseConvFF(nn.Module):
    """Conv (d -> d_inner) - ReLU - conv (-> d) with a residual add and a layer norm (`CoreNet.{0,2}`)."""

    def __init__(self, d_model: int, cfg: FFTConfig) -> None:
        super().__init__()
        k = cfg.kernel_size
        self.pre_lnorm = cfg.pre_lnorm
        self.CoreNet = nn.Sequential(
            nn.Conv1d(d_model, cfg.d_inner, k, 1, k // 2),
            nn.ReLU(),
            nn.Conv1d(cfg.d_inner, d_model, k, 1, k // 2),
        )
        self.layer_norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x [b, t, d] (zero where masked), mask [b, t, 1]. Returns [b, t, d]."""
        h = self.layer_norm(x) * mask if self.pre_lnorm else x
        m = mask.transpose(1, 2)  # [b, 1, t]
        h = F.relu(self.CoreNet[0](h.transpose(1, 2))) * m  # [b, d_inner, t]
        h = self.CoreNet[2](h).transpose(1, 2)  # [b, t, d]
        return x + h if self.pre_lnorm else self.layer_norm(x + h)


class TransformerLayer(nn.Module):
    """Attention then the convolutional feed-forward, each output zeroed where masked."""

    def __init__(self, d_model: int, cfg: FFTConfig) -> None:
        super().__init__()
        self.dec_attn = MultiHeadAttn(d_model, cfg)
        self.pos_ff = PositionwiseConvFF(d_model, cfg)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.dec_attn(x, mask) * mask
        return self.pos_ff(x, mask) * mask


class FFTransformer(nn.Module):
    """Positional embedding (+ speaker embedding) and a stack of transformer layers; with `n_vocab`, a token
    embedding in front (NeMo's encoder, `word_emb`)."""

    def __init__(self, d_model: int, cfg: FFTConfig, n_vocab: int = 0, padding_idx: int = 0) -> None:
        super().__init__()
        self.d_model = d_model
        self.pos_emb = PositionalEmbedding(d_model)
        if n_vocab:
            self.word_emb = nn.Embedding(n_vocab, d_model, padding_idx=padding_idx)
        self.layers = nn.ModuleList(TransformerLayer(d_model, cfg) for _ in range(cfg.n_layer))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, spk: torch.Tensor | None = None) -> torch.Tensor:
        """x [b, t, d] (or ids [b, t] for the encoder), mask [b, t, 1], spk [b, 1, d] or None. Returns [b, t, d]."""
        if x.dim() == 2:
            x = self.word_emb(x)  # [b, t, d]
        x = x + self.pos_emb(x.shape[1], x.dtype) * mask
        if spk is not None:
            x = x + spk
        for layer in self.layers:
            x = layer(x, mask)
        return x
