"""Tacotron 2 (NVIDIA DeepLearningExamples'): symbol ids -> mel frames, with a reference decoding loop.

`Tacotron2.infer` is the plain per-step loop with DLE's semantics (zero go frame and states, prenet dropout
always on, a row stops after the step whose sigmoid(gate) exceeds the threshold); the family's `decode`
stage (`stages.py`) runs the same `Decoder.step` block by block on the device.

Frame counts: a row's count is the number of steps it emitted, the step on which its gate fired included
(DLE's `mel_lengths + 1` at batch 1, the width of DLE's batch-1 mel).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
from torch import nn

from ...errors import ConfigError, DecodeLimitError
from .config import Tacotron2Config
from .layers import Decoder, Encoder, Postnet, length_mask


def dle_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """A DLE Tacotron2 state dict (`module.` stripped) under this module's keys: the `ConvNorm.conv` and
    `LinearNorm.linear_layer` wrappers are dropped (`X.conv.weight` -> `X.weight`) and the encoder's
    bidirectional LSTM becomes two one-way LSTMs (`encoder.lstm.P_l0` -> `encoder.lstm_fwd.P_l0`,
    `encoder.lstm.P_l0_reverse` -> `encoder.lstm_bwd.P_l0`)."""
    out: dict[str, Any] = {}
    for key, value in state.items():
        key = re.sub(r"\.(conv|linear_layer)\.", ".", key)
        m = re.fullmatch(r"encoder\.lstm\.(\w+?_l0)(_reverse)?", key)
        if m:
            key = f"encoder.lstm_{'bwd' if m.group(2) else 'fwd'}.{m.group(1)}"
        out[key] = value
    return out


class Decoded(NamedTuple):
    """What `Tacotron2.infer` returns for a batch."""

    mel: torch.Tensor
    """[b, n_mel, t_y] the post-net mel, zero past each count."""
    counts: torch.Tensor
    """[b] int64 frames per row (the step its gate fired included)."""
    gate: torch.Tensor
    """[b, t_y] gate logits of every step run."""
    alignments: torch.Tensor
    """[b, t_y, t_x] attention weights of every step run."""
    mel_pre: torch.Tensor
    """[b, n_mel, t_y] the decoder's mel before the post-net, zero past each count."""


class Tacotron2(nn.Module):
    """Embedding, encoder, attention decoder and postnet (DLE's module names, see `dle_state`)."""

    def __init__(self, cfg: Tacotron2Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Embedding(cfg.n_symbols, cfg.embedding_dim)
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.postnet = Postnet(cfg)

    def encode(self, ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ids [b, t_x] i64, lengths [b] -> (memory [b, t_x, e], processed memory [b, t_x, a]), zero past
        each length."""
        x = self.embedding(ids).transpose(1, 2)  # [b, e, t_x]
        memory = self.encoder(x, lengths)  # [b, t_x, e]
        processed = self.decoder.attention_layer.memory_layer(memory)  # [b, t_x, a] (no bias: zero on padding)
        return memory, processed

    def post(self, mel: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """mel [b, n_mel, t_y] (zero past each count), mask [b, 1, t_y] -> mel + postnet(mel), zero past counts."""
        return (mel + self.postnet(mel, mask)) * mask

    @torch.no_grad()
    def infer(self, ids: torch.Tensor, lengths: torch.Tensor, prenet_masks: torch.Tensor | None = None,
              gate_threshold: float | None = None, max_steps: int | None = None,
              generator: torch.Generator | None = None) -> Decoded:
        """The reference decoding loop. ids [b, t_x], lengths [b]; prenet_masks [b, steps, 2, prenet_dim] 0/1
        keep masks of the prenet's two layers per step (None: drawn with torch.bernoulli(0.5)); gate_threshold
        and max_steps default to the config's. Raises `DecodeLimitError` if a row is still live after
        max_steps steps, `ConfigError` if prenet_masks has too few steps."""
        cfg = self.cfg
        thr = cfg.gate_threshold if gate_threshold is None else gate_threshold
        limit = cfg.max_decoder_steps if max_steps is None else max_steps
        memory, processed = self.encode(ids, lengths)
        pad = length_mask(lengths, ids.shape[1], memory.dtype) == 0  # [b, t_x]
        b = ids.shape[0]
        state = self.decoder.initial_state(memory)
        live = torch.ones(b, dtype=torch.bool, device=ids.device)
        counts = torch.zeros(b, dtype=torch.int64, device=ids.device)
        frames: list[torch.Tensor] = []
        gates: list[torch.Tensor] = []
        aligns: list[torch.Tensor] = []
        for s in range(limit):
            if prenet_masks is None:
                half = memory.new_full((b, 2, cfg.prenet_dim), 0.5)
                m = torch.bernoulli(half, generator=generator)  # [b, 2, p]
            elif s < prenet_masks.shape[1]:
                m = prenet_masks[:, s].to(memory.dtype)  # [b, 2, p]
            else:
                raise ConfigError(f"prenet_masks covers {prenet_masks.shape[1]} steps; decoding needs more (give "
                                  f"at least max_steps = {limit})")
            state, gate = self.decoder.step(state, memory, processed, pad, (m[:, 0], m[:, 1]))
            frames.append(state.frame)
            gates.append(gate)
            aligns.append(state.weights)
            counts += live.long()
            live = live & (torch.sigmoid(gate) <= thr)
            if not bool(live.any()):
                break
        else:
            rows = [i for i in range(b) if bool(live[i])]
            raise DecodeLimitError(f"the Tacotron2 gate did not fire within {limit} steps for row(s) {rows} of "
                                   "the batch: the model does not stop on this input (or the step limit is too low)")
        mask = length_mask(counts, len(frames), memory.dtype)[:, None]  # [b, 1, t_y]
        mel_pre = torch.stack(frames, 2) * mask  # [b, n_mel, t_y]
        return Decoded(self.post(mel_pre, mask), counts, torch.stack(gates, 1), torch.stack(aligns, 1), mel_pre)
