"""Attention for token models: grouped-query heads, rotary positions, a static key/value cache written in
place at each row's own position, and cross-attention with an optional null key/value.

Shapes: b rows, n new positions, T cache slots, h query heads, g kv heads, dh head width. The cache of one
layer is [b, g, T, dh]; a step writes rows' keys at slots pos[r] .. pos[r] + n - 1 and attends over every
slot with a bias that hides slots past each query's own position, so stale slots (a rejected speculative
draft, an earlier utterance of the bucket) are never read and rolling back is only a smaller `pos`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import StackConfig

NEG = float("-inf")


def causal_bias(pos: torch.Tensor, n: int, slots: int) -> torch.Tensor:
    """Additive bias [b, 1, n, slots]: query i of row r (absolute position pos[r] + i) sees slots <= its own."""
    q = pos[:, None] + torch.arange(n, device=pos.device)  # [b, n]
    keys = torch.arange(slots, device=pos.device)  # [slots]
    seen = keys[None, None, :] <= q[:, :, None]  # [b, n, slots]
    return torch.where(seen, 0.0, NEG)[:, None].to(torch.float32)


def key_bias(lengths: torch.Tensor, slots: int, null: bool = False) -> torch.Tensor:
    """Additive bias [b, 1, 1, slots (+1)] hiding padded keys (a leading null slot is always seen)."""
    seen = torch.arange(slots, device=lengths.device)[None, :] < lengths[:, None]  # [b, slots]
    if null:
        seen = torch.cat([torch.ones_like(seen[:, :1]), seen], dim=1)
    return torch.where(seen, 0.0, NEG)[:, None, None].to(torch.float32)


def rotary_angles(positions: torch.Tensor, dim: int, theta: float,
                  dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin [b, 1, n, dim] for absolute positions [b, n]; adjacent dims (2i, 2i + 1) form a pair. The
    frequencies are float32 values (as the reference implementations store them); angles, cos and sin are
    computed in `dtype` (float32, or float64 for a float64 model)."""
    inv = 1.0 / theta ** (torch.arange(0, dim, 2, device=positions.device, dtype=torch.float32) / dim)  # [dim/2]
    ang = positions.to(dtype)[..., None] * inv.to(dtype)  # [b, n, dim/2]
    ang = ang.repeat_interleave(2, dim=-1)[:, None]  # [b, 1, n, dim]
    return ang.cos(), ang.sin()


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary on the leading cos.shape[-1] dims of x [b, h, n, dh] (pairs of adjacent dims)."""
    d = cos.shape[-1]
    head, tail = x[..., :d], x[..., d:]
    pairs = head.unflatten(-1, (d // 2, 2))  # [b, h, n, d/2, 2]
    turned = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)  # (x0, x1) -> (-x1, x0)
    return torch.cat((head * cos + turned * sin, tail), dim=-1)


def write_cache(cache: torch.Tensor, new: torch.Tensor, pos: torch.Tensor) -> None:
    """Write new [b, g, n, dh] into cache [b, g, T, dh] at slots pos[r] .. pos[r] + n - 1, in place."""
    b, g, n, dh = new.shape
    slots = pos[:, None] + torch.arange(n, device=pos.device)  # [b, n]
    cache.scatter_(2, slots[:, None, :, None].expand(b, g, n, dh), new)


class Attention(nn.Module):
    """Multi-head attention with grouped kv heads; `q`, `k`, `v`, `o` are separate linear layers (`k`, `v`
    read `kv_dim` wide inputs: the encoder's width in cross-attention)."""

    def __init__(self, cfg: StackConfig, cross: bool = False, kv_dim: int | None = None) -> None:
        super().__init__()
        kv_heads = (cfg.cross_kv_heads or cfg.kv_heads) if cross else cfg.kv_heads
        self.heads, self.kv_heads, self.head_dim = cfg.heads, kv_heads, cfg.head_dim
        kv_dim = kv_dim or cfg.dim
        self.q = nn.Linear(cfg.dim, cfg.heads * cfg.head_dim, bias=cfg.bias)
        self.k = nn.Linear(kv_dim, kv_heads * cfg.head_dim, bias=cfg.bias)
        self.v = nn.Linear(kv_dim, kv_heads * cfg.head_dim, bias=cfg.bias)
        self.o = nn.Linear(cfg.heads * cfg.head_dim, cfg.dim, bias=cfg.bias)
        self.null = cross and cfg.null_kv
        if self.null:
            self.null_k = nn.Parameter(torch.zeros(kv_heads, cfg.head_dim))
            self.null_v = nn.Parameter(torch.zeros(kv_heads, cfg.head_dim))
        group = cfg.heads // kv_heads
        # query heads listed kv head by kv head (head q reads kv head q mod g), and the inverse order
        order = [j * kv_heads + i for i in range(kv_heads) for j in range(group)]
        self.register_buffer("order", torch.tensor(order), persistent=False)
        self.register_buffer("unorder", torch.argsort(torch.tensor(order)), persistent=False)

    def queries(self, x: torch.Tensor) -> torch.Tensor:
        """x [b, n, d] -> [b, h, n, dh]."""
        return self.q(x).unflatten(-1, (self.heads, self.head_dim)).transpose(1, 2)

    def keys_values(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [b, s, kv_dim] -> keys, values [b, g, s, dh] (with the null pair first when the layer has one)."""
        k = self.k(x).unflatten(-1, (self.kv_heads, self.head_dim)).transpose(1, 2)
        v = self.v(x).unflatten(-1, (self.kv_heads, self.head_dim)).transpose(1, 2)
        if self.null:
            b = x.shape[0]
            k = torch.cat([self.null_k[None, :, None].expand(b, -1, 1, -1), k], dim=2)
            v = torch.cat([self.null_v[None, :, None].expand(b, -1, 1, -1), v], dim=2)
        return k, v

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """q [b, h, n, dh], k/v [b, g, T, dh], bias [b, 1, n | 1, T] -> [b, n, d] (after `o`).

        Grouped heads never copy the keys: the queries that share a kv head are stacked along the
        position axis instead ([b, g, group * n, dh])."""
        b, h, n, dh = q.shape
        g = self.kv_heads
        if g != h:
            q = q[:, self.order].reshape(b, g, (h // g) * n, dh)  # [b, g, group * n, dh]
            bias = bias.expand(b, 1, n, bias.shape[-1]).repeat(1, 1, h // g, 1)  # [b, 1, group * n, T]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
        if g != h:
            out = out.reshape(b, h, n, dh)[:, self.unorder]  # back to query-head order
        return self.o(out.transpose(1, 2).flatten(2))  # [b, n, d]
