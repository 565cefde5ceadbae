"""The VITS text encoder: phoneme embedding, relative-position transformer, prior statistics.

Relative attention is computed on the band |i - j| <= window only, gathering with an index that
depends on the bucket length alone, so the graph is static for a bucket and exact for any utterance.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .config import VitsConfig
from .layers import LayerNorm, same_conv


class RelativeAttention(nn.Module):
    """Multi-head self-attention with learned relative-position keys and values (heads share them)."""

    def __init__(self, channels: int, n_heads: int, window_size: int) -> None:
        super().__init__()
        assert channels % n_heads == 0, "channels must divide into heads"
        self.n_heads = n_heads
        self.k_channels = channels // n_heads
        self.window_size = window_size
        self.conv_q = nn.Conv1d(channels, channels, 1)
        self.conv_k = nn.Conv1d(channels, channels, 1)
        self.conv_v = nn.Conv1d(channels, channels, 1)
        self.conv_o = nn.Conv1d(channels, channels, 1)
        rel_std = self.k_channels**-0.5
        self.emb_rel_k = nn.Parameter(torch.randn(1, 2 * window_size + 1, self.k_channels) * rel_std)
        self.emb_rel_v = nn.Parameter(torch.randn(1, 2 * window_size + 1, self.k_channels) * rel_std)

    def _band(self, t: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Index tensors for the relative band of a length-t sequence (static for a bucket)."""
        w = self.window_size
        pos = torch.arange(t, device=device)
        rel = pos.unsqueeze(0) - pos.unsqueeze(1) + w  # [t, t]: j - i + w
        in_band = (rel >= 0) & (rel <= 2 * w)  # [t, t]
        offsets = torch.arange(2 * w + 1, device=device)
        absolute = pos.unsqueeze(1) + offsets.unsqueeze(0) - w  # [t, 2w+1]: i + k - w
        valid = (absolute >= 0) & (absolute < t)  # [t, 2w+1]
        return rel.clamp(0, 2 * w), in_band, absolute.clamp(0, t - 1), valid

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        b, c, t = x.shape
        h, k = self.n_heads, self.k_channels
        q = self.conv_q(x).view(b, h, k, t).transpose(2, 3) * (k**-0.5)  # [b, h, t, k]
        key = self.conv_k(x).view(b, h, k, t).transpose(2, 3)  # [b, h, t, k]
        value = self.conv_v(x).view(b, h, k, t).transpose(2, 3)  # [b, h, t, k]
        rel_idx, in_band, abs_idx, valid = self._band(t, x.device)

        scores = torch.matmul(q, key.transpose(-2, -1))  # [b, h, t, t]
        # The parameter feeds the MatMul directly, so exports keep it under its name (no folded copy).
        rel_logits = torch.matmul(self.emb_rel_k, q.transpose(2, 3)).transpose(2, 3)  # [b, h, t, 2w+1]
        local = torch.gather(rel_logits, 3, rel_idx.expand(b, h, t, t))  # [b, h, t, t]
        scores = scores + local * in_band
        scores = scores.masked_fill(attn_mask == 0, -1e4)
        p_attn = torch.softmax(scores, dim=-1)  # [b, h, t, t]
        out = torch.matmul(p_attn, value)  # [b, h, t, k]
        rel_weights = torch.gather(p_attn, 3, abs_idx.expand(b, h, t, abs_idx.shape[1])) * valid  # [b, h, t, 2w+1]
        out = out + torch.matmul(rel_weights, self.emb_rel_v)  # [b, h, t, k]
        out = out.transpose(2, 3).reshape(b, c, t)  # [b, c, t]
        return self.conv_o(out)


class FeedForward(nn.Module):
    """Two same-padded convolutions with a ReLU, inputs masked so padding never leaks in."""

    def __init__(self, channels: int, filter_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.conv_1 = same_conv(channels, filter_channels, kernel_size)
        self.conv_2 = same_conv(filter_channels, channels, kernel_size)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv_1(x * x_mask))  # [b, f, t]
        return self.conv_2(x * x_mask) * x_mask  # [b, c, t]


class Encoder(nn.Module):
    """Post-norm transformer stack of relative attention and convolutional feed-forward layers."""

    def __init__(self, cfg: VitsConfig) -> None:
        super().__init__()
        ch = cfg.hidden_channels
        self.attn_layers = nn.ModuleList(RelativeAttention(ch, cfg.n_heads, cfg.window_size) for _ in range(cfg.n_layers))
        self.norm_layers_1 = nn.ModuleList(LayerNorm(ch) for _ in range(cfg.n_layers))
        self.ffn_layers = nn.ModuleList(FeedForward(ch, cfg.filter_channels, cfg.kernel_size) for _ in range(cfg.n_layers))
        self.norm_layers_2 = nn.ModuleList(LayerNorm(ch) for _ in range(cfg.n_layers))

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        attn_mask = x_mask.unsqueeze(2) * x_mask.unsqueeze(-1)  # [b, 1, t, t]
        x = x * x_mask
        for attn, norm_1, ffn, norm_2 in zip(self.attn_layers, self.norm_layers_1, self.ffn_layers, self.norm_layers_2):
            x = norm_1(x + attn(x, attn_mask))
            x = norm_2(x + ffn(x, x_mask))
        return x * x_mask


class TextEncoder(nn.Module):
    """Phoneme ids -> hidden states and the prior's mean and log-std per phoneme."""

    def __init__(self, cfg: VitsConfig) -> None:
        super().__init__()
        self.hidden_channels = cfg.hidden_channels
        self.inter_channels = cfg.inter_channels
        self.emb = nn.Embedding(cfg.n_vocab, cfg.hidden_channels)
        self.encoder = Encoder(cfg)
        self.proj = nn.Conv1d(cfg.hidden_channels, cfg.inter_channels * 2, 1)

    def forward(self, ids: torch.Tensor, x_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.emb(ids) * math.sqrt(self.hidden_channels)  # [b, t, h]
        x = self.encoder(x.transpose(1, 2), x_mask)  # [b, h, t]
        stats = self.proj(x) * x_mask  # [b, 2c, t]
        m, logs = torch.split(stats, self.inter_channels, dim=1)  # [b, c, t] each
        return x, m, logs
