"""`TokenTransformer`: an encoder-decoder transformer over discrete tokens, with a static key/value cache.

One module covers toktts (GPT-2 blocks: LayerNorm, GELU-tanh MLP, learned positions, a causal encoder)
and Spear-TTS (RMS norm, GEGLU, rotary, grouped kv heads, null-kv cross-attention, an early-exit head);
the loaders map each format's weights onto these names. Inference runs `encode` once per utterance,
`cross_kv` once, then `step` for each new block of target positions; the caches are allocated by the
caller per bucket (rows, target slots) and written in place.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from .attention import Attention, causal_bias, key_bias, rotary_angles, rotate, write_cache
from .config import StackConfig, TokenModelConfig


class RMSNorm(nn.Module):
    """normalize(x) * sqrt(dim) * gamma."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale = math.sqrt(dim)
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1) * self.scale * self.weight


def make_norm(cfg: StackConfig) -> nn.Module:
    """The stack's norm layer."""
    return nn.LayerNorm(cfg.dim, eps=cfg.norm_eps) if cfg.norm == "layer" else RMSNorm(cfg.dim)


class FeedForward(nn.Module):
    """GELU MLP or GEGLU."""

    def __init__(self, cfg: StackConfig) -> None:
        super().__init__()
        self.geglu = cfg.ffn == "geglu"
        self.approximate = "tanh" if cfg.gelu == "tanh" else "none"
        bias = cfg.bias if cfg.ffn_bias is None else cfg.ffn_bias
        self.fc = nn.Linear(cfg.dim, cfg.ffn_dim * (2 if self.geglu else 1), bias=bias)
        self.proj = nn.Linear(cfg.ffn_dim, cfg.dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc(x)  # [b, n, f | 2f]
        if self.geglu:
            value, gate = h.chunk(2, dim=-1)
            h = value * F.gelu(gate, approximate=self.approximate)
        else:
            h = F.gelu(h, approximate=self.approximate)
        return self.proj(h)


class Block(nn.Module):
    """Pre-norm block: self-attention, cross-attention (decoder), feed-forward, each with a residual."""

    def __init__(self, cfg: StackConfig, memory_dim: int | None = None) -> None:
        super().__init__()
        self.norm1 = make_norm(cfg)
        self.attn = Attention(cfg)
        if cfg.cross:
            self.norm_x = make_norm(cfg)
            self.cross = Attention(cfg, cross=True, kv_dim=memory_dim)
        self.norm2 = make_norm(cfg)
        self.ffn = FeedForward(cfg)

    def forward(self, x: torch.Tensor, rot: tuple[torch.Tensor, torch.Tensor] | None, bias: torch.Tensor,
                cache: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
                cross: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """x [b, n, d]; `rot` the rotary cos/sin of the n positions; `bias` [b, 1, n | 1, T] over the keys
        attended; `cache` (k, v [b, g, T, dh], pos [b]) to write the new keys into and attend over
        (otherwise the n positions attend to themselves); `cross` (k, v [b, g, s, dh], bias [b, 1, 1, s])."""
        h = self.norm1(x)
        q = self.attn.queries(h)  # [b, h, n, dh]
        k, v = self.attn.keys_values(h)  # [b, g, n, dh]
        if rot is not None:
            q, k = rotate(q, *rot), rotate(k, *rot)
        if cache is not None:
            k_cache, v_cache, pos = cache
            write_cache(k_cache, k, pos)
            write_cache(v_cache, v, pos)
            k, v = k_cache, v_cache
        x = x + self.attn.attend(q, k, v, bias)
        if cross is not None:
            ck, cv, cbias = cross
            x = x + self.cross.attend(self.cross.queries(self.norm_x(x)), ck, cv, cbias)
        return x + self.ffn(self.norm2(x))


class Stack(nn.Module):
    """A stack of blocks and its final norm (`memory_dim`: the width cross-attention reads)."""

    def __init__(self, cfg: StackConfig, memory_dim: int | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.layers = nn.ModuleList(Block(cfg, memory_dim) for _ in range(cfg.layers))
        self.norm = make_norm(cfg) if cfg.final_norm else nn.Identity()

    def rotary(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """cos/sin for positions [b, n] when the stack is rotary."""
        if self.cfg.positions != "rotary":
            return None
        dtype = torch.promote_types(self.layers[0].norm1.weight.dtype, torch.float32)  # float64 models: float64
        return rotary_angles(positions, self.cfg.rotary_dim or self.cfg.head_dim, self.cfg.rotary_theta, dtype)


class TokenTransformer(nn.Module):
    """Source ids -> target-token logits (see the module docstring)."""

    def __init__(self, cfg: TokenModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        enc, dec = cfg.encoder, cfg.decoder
        self.src_emb = nn.Embedding(cfg.src_vocab, enc.dim)
        if enc.positions == "learned":
            self.src_pos = nn.Embedding(enc.max_positions, enc.dim)
        self.encoder = Stack(enc)
        self.tgt_emb = nn.Embedding(cfg.tgt_vocab, dec.dim)
        if dec.positions == "learned":
            self.tgt_pos = nn.Embedding(dec.max_positions, dec.dim)
        if cfg.start_vector:
            self.start = nn.Parameter(torch.zeros(dec.dim))
        self.decoder = Stack(dec, memory_dim=enc.dim)
        if not cfg.tie_embeddings:
            self.head = nn.Linear(dec.dim, cfg.tgt_vocab, bias=cfg.logits_bias)
        elif cfg.logits_bias:
            self.head_bias = nn.Parameter(torch.zeros(cfg.tgt_vocab))
        if cfg.exit_ffn_dim:
            self.exit_ffn_norm = make_norm(dec)
            self.exit_ffn = FeedForward(replace(dec, ffn_dim=cfg.exit_ffn_dim))
        if cfg.early_exit_layer is not None:
            self.exit_norm = make_norm(dec)
            self.exit_head = nn.Linear(dec.dim, cfg.tgt_vocab, bias=cfg.logits_bias)

    # ---- encoder -------------------------------------------------------------------------------------

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> torch.Tensor:
        """src [b, s] int64, src_lengths [b] -> memory [b, s, d] (rows past a length are unused)."""
        b, s = src.shape
        positions = torch.arange(s, device=src.device).expand(b, s)  # [b, s]
        x = self.src_emb(src)  # [b, s, d]
        if self.cfg.encoder.positions == "learned":
            x = x + self.src_pos(positions)
        bias = key_bias(src_lengths, s)  # [b, 1, 1, s]
        if self.cfg.encoder.causal:
            bias = bias + causal_bias(torch.zeros_like(src_lengths), s, s)  # [b, 1, s, s]
        rot = self.encoder.rotary(positions)
        for layer in self.encoder.layers:
            x = layer(x, rot, bias)
        return self.encoder.norm(x)

    def cross_kv(self, memory: torch.Tensor, src_lengths: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """memory [b, s, d_enc] -> keys, values [L, b, gx, s', dh] of every decoder layer's cross-attention (gx:
        its kv heads, `cross_kv_heads`) and their bias [b, 1, 1, s'] (s' = s + 1 with a null key/value)."""
        kv = [layer.cross.keys_values(memory) for layer in self.decoder.layers]
        ck = torch.stack([k for k, _ in kv])
        cv = torch.stack([v for _, v in kv])
        return ck, cv, key_bias(src_lengths, memory.shape[1], null=self.cfg.decoder.null_kv)

    # ---- decoder -------------------------------------------------------------------------------------

    def embed_target(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """tokens, positions [b, n] -> decoder inputs [b, n, d]."""
        x = self.tgt_emb(tokens)  # [b, n, d]
        if self.cfg.start_vector:
            x = torch.where((positions == 0)[..., None], self.start.to(x.dtype), x)
        if self.cfg.decoder.positions == "learned":
            x = x + self.tgt_pos(positions)
        return x

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """Final hidden states [b, n, d] -> logits [b, n, V]."""
        h = self.decoder.norm(h)
        if self.cfg.tie_embeddings:
            out = F.linear(h, self.tgt_emb.weight)
            return out + self.head_bias if self.cfg.logits_bias else out
        return self.head(h)

    def exit_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Hidden states after `early_exit_layer` blocks -> the early-exit head's logits [b, n, V]."""
        if self.cfg.exit_ffn_dim:
            h = h + self.exit_ffn(self.exit_ffn_norm(h))
        return self.exit_head(self.exit_norm(h))

    def step(self, tokens: torch.Tensor, pos: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor,
             ck: torch.Tensor, cv: torch.Tensor, cross_bias: torch.Tensor, depth: int | None = None) -> torch.Tensor:
        """Run n new target positions per row: tokens [b, n] at positions pos[r] .. pos[r] + n - 1, caches
        [L, b, g, T, dh] (written in place), cross keys/values [L, b, g, s', dh] -> logits [b, n, V]
        (`depth`: run only the first `depth` blocks and return the early-exit head's logits)."""
        n, slots = tokens.shape[1], k_cache.shape[3]
        positions = pos[:, None] + torch.arange(n, device=pos.device)  # [b, n]
        x = self.embed_target(tokens, positions)
        rot = self.decoder.rotary(positions)
        bias = causal_bias(pos, n, slots)  # [b, 1, n, T]
        layers = self.decoder.layers if depth is None else self.decoder.layers[:depth]
        for i, layer in enumerate(layers):
            x = layer(x, rot, bias, cache=(k_cache[i], v_cache[i], pos), cross=(ck[i], cv[i], cross_bias))
        return self.logits(x) if depth is None else self.exit_logits(x)

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor,
                tgt_lengths: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: src [b, s], tgt_in [b, t] (BOS first) -> logits [b, t, V]."""
        return self.forward_exit(src, src_lengths, tgt_in, tgt_lengths)[0]

    def forward_exit(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor,
                     tgt_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher forcing -> (logits [b, t, V], the early-exit head's logits [b, t, V] or None)."""
        memory = self.encode(src, src_lengths)
        ck, cv, cbias = self.cross_kv(memory, src_lengths)
        b, t = tgt_in.shape
        positions = torch.arange(t, device=tgt_in.device).expand(b, t)
        x = self.embed_target(tgt_in, positions)
        rot = self.decoder.rotary(positions)
        bias = causal_bias(torch.zeros_like(tgt_lengths), t, t)  # [b, 1, t, t]
        exit_logits = None
        for i, layer in enumerate(self.decoder.layers):
            x = layer(x, rot, bias, cross=(ck[i], cv[i], cbias))
            if i + 1 == self.cfg.early_exit_layer:
                exit_logits = self.exit_logits(x)
        return self.logits(x), exit_logits

    def new_cache(self, batch: int, slots: int, dtype: torch.dtype | None = None,
                  device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Zeroed self-attention caches k, v [L, batch, g, slots, dh] for one bucket."""
        dec = self.cfg.decoder
        p = self.tgt_emb.weight
        shape = (dec.layers, batch, dec.kv_heads, slots, dec.head_dim)
        k = torch.zeros(shape, dtype=dtype or p.dtype, device=device or p.device)
        return k, torch.zeros_like(k)
