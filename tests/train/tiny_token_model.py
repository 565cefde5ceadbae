"""A tiny GRU encoder-decoder that satisfies the trainer's model protocol, its registration as the model kind
"tiny_gru", and a toy corpus whose tokens are a letter-by-letter code of the text (so both directions are
learnable and pseudo-labels can be checked exactly)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sonorant.train.models import register_model

ALPHABET = "abcdefgh "
"""The toy corpus's letters; letter i is token i."""
TOKEN_VOCAB = 16
"""Token ids 0..15 are ordinary codes; 16 is BOS and 17 EOS/pad on the token side."""


@dataclass(frozen=True)
class Spec:
    """The token_spec of the tiny model."""

    bos: int
    eos: int
    pad: int
    vocab_size: int


class TinyGru(nn.Module):
    """src ids -> GRU -> last valid state -> GRU decoder over tgt_in -> logits; optional early-exit head on the
    decoder's input embedding (sets `early_exit_logits`); dropout on that embedding draws from torch's RNG."""

    def __init__(self, src_vocab: int, tgt_vocab: int, bos: int, eos: int, pad: int, hidden: int = 48,
                 early_exit: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        self.token_spec = Spec(bos, eos, pad, tgt_vocab)
        self.src_emb = nn.Embedding(src_vocab, hidden)
        self.encoder = nn.GRU(hidden, hidden, batch_first=True)
        self.tgt_emb = nn.Embedding(tgt_vocab, hidden)
        self.decoder = nn.GRU(hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, tgt_vocab)
        self.dropout = nn.Dropout(dropout)
        self.early_head = nn.Linear(hidden, tgt_vocab) if early_exit else None
        self.early_exit_logits: torch.Tensor | None = None

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor,
                tgt_lengths: torch.Tensor) -> torch.Tensor:
        enc, _ = self.encoder(self.src_emb(src))  # [b, s, h]
        last = enc[torch.arange(src.shape[0]), src_lengths - 1]  # [b, h]
        emb = self.dropout(self.tgt_emb(tgt_in))  # [b, t, h]
        dec, _ = self.decoder(emb, last[None].contiguous())  # [b, t, h]
        if self.early_head is not None:
            self.early_exit_logits = self.early_head(emb)  # [b, t, V]
        return self.out(dec)  # [b, t, V]


def build_tiny(options: Mapping[str, Any]) -> TinyGru:
    """The "tiny_gru" builder: direction "text_to_tokens" (bytes in, tokens out) or "tokens_to_text"."""
    options = dict(options)
    direction = options.pop("direction", "text_to_tokens")
    if direction == "text_to_tokens":
        return TinyGru(384, TOKEN_VOCAB + 2, bos=TOKEN_VOCAB, eos=TOKEN_VOCAB + 1, pad=TOKEN_VOCAB + 1, **options)
    # text targets are ByT5 ids (bytes + 3); EOS 1, pad 0 as ByT5, BOS 259 past the bytes
    return TinyGru(TOKEN_VOCAB, 260, bos=259, eos=1, pad=0, **options)


register_model("tiny_gru", build_tiny)


def toy_text(i: int) -> str:
    """The i-th toy sentence: 2 to 7 letters of ALPHABET, a fixed function of i."""
    g = torch.Generator().manual_seed(1000 + i)
    n = int(torch.randint(2, 8, (1,), generator=g))
    return "".join(ALPHABET[int(k)] for k in torch.randint(0, len(ALPHABET) - 1, (n,), generator=g))


def toy_tokens(text: str) -> list[int]:
    """The toy code of a text: letter i -> token i."""
    return [ALPHABET.index(c) for c in text]


def write_manifest(path: Path, count: int, start: int = 0, with_text: bool = True) -> Path:
    """A toy manifest of `count` lines (text + tokens; tokens only with with_text=False)."""
    lines = []
    for i in range(start, start + count):
        text = toy_text(i)
        record = {"text": text, "tokens": toy_tokens(text)} if with_text else {"tokens": toy_tokens(text)}
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def base_config(tmp: Path, manifest: Path, **train: Any) -> dict[str, Any]:
    """A small config as parsed data (paths absolute), with train.* overrides."""
    return {
        "model": {"kind": "tiny_gru", "options": {}},
        "data": {"manifest": str(manifest), "cache_dir": str(tmp / "cache"), "valid_fraction": 0.0},
        "optim": {"lr": 1e-2, "warmup_steps": 2, "weight_decay": 0.01, "grad_clip": 1.0},
        "train": {"output_dir": str(tmp / "run"), "steps": 6, "batch_size": 4, "checkpoint_every": 3,
                  "eval_every": 0, "log_every": 1, "progress": False, "plot": False, "device": "cpu", **train},
    }
