"""The trainer's built-in model kind "tokens": a `models.tokens.TokenTransformer` (the core behind toktts,
Spear-TTS and the token voices trained here), with an optional guided-attention loss.

model.options are `TokenModelConfig`'s fields (encoder and decoder as mappings of `StackConfig` fields)
plus:
  attention_guide        weight of the guided-attention loss (0: off), a diagonal prior on one decoder
                         layer's cross-attention (Tachibana et al., 2017, "DC-TTS"): attending far from
                         the diagonal t/T = n/N costs 1 - exp(-(n/N - t/T)^2 / (2 sigma^2)) per target
                         token. It teaches a text-to-token model to read its input in order within a few
                         thousand steps instead of tens of thousands; inference does not use it.
  attention_guide_sigma  sigma of that prior (default 0.2)
  attention_align        weight of the alignment loss (0: off): where the manifest gives durations (frames
                         per source id, `train.data.token_alignment`), the guided layer's head-averaged
                         cross-attention is taught to read the source id each target token lies over
                         (its negative log), a hard diagonal where the prior above is a soft one. Batches
                         without durations add nothing
  attention_guide_layer  the decoder layer whose cross-attention is guided or aligned (default 0)
  codec, voice           for evaluation and export: the codec file the tokens decode with, and the Piper
                         voice whose phoneme front end made the source ids ("phonemes" front end)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from ..models.tokens.config import StackConfig, TokenModelConfig
from ..models.tokens.model import TokenTransformer

EXTRA = ("attention_guide", "attention_guide_sigma", "attention_guide_layer", "attention_align", "codec", "voice")
"""model.options keys that are not `TokenModelConfig` fields."""


@dataclass(frozen=True)
class TrainTokenSpec:
    """The ids the trainer needs (`train.models.TokenSpec`)."""

    bos: int
    eos: int
    pad: int
    vocab_size: int
    source_pad: int
    source_vocab_size: int


def token_config(options: Mapping[str, Any]) -> TokenModelConfig:
    """model.options -> a `TokenModelConfig` (ConfigError naming a bad or unknown key)."""
    known = {f.name for f in fields(TokenModelConfig)}
    unknown = sorted(set(options) - known - set(EXTRA))
    if unknown:
        raise ConfigError(f"model.options: unknown key {', '.join(unknown)} for kind 'tokens' (keys: "
                          f"{', '.join(sorted(known | set(EXTRA)))})")
    kwargs = {k: v for k, v in options.items() if k in known}
    for stack in ("encoder", "decoder"):
        if not isinstance(kwargs.get(stack), Mapping):
            raise ConfigError(f"model.options.{stack} must be a mapping of StackConfig fields")
        names = {f.name for f in fields(StackConfig)}
        bad = sorted(set(kwargs[stack]) - names)
        if bad:
            raise ConfigError(f"model.options.{stack}: unknown key {', '.join(bad)} (keys: {', '.join(sorted(names))})")
        kwargs[stack] = StackConfig(**kwargs[stack])
    try:
        return TokenModelConfig(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"model.options: {exc}") from None


class TrainableTokens(nn.Module):
    """A `TokenTransformer` as the trainer calls it (`model` holds it; export saves `model`'s weights)."""

    def __init__(self, cfg: TokenModelConfig, guide: float = 0.0, sigma: float = 0.2, layer: int = 0,
                 align: float = 0.0) -> None:
        super().__init__()
        if guide < 0 or align < 0 or not 0 < sigma < 10 or not 0 <= layer < cfg.decoder.layers:
            raise ConfigError(f"attention_guide and attention_align must be >= 0, attention_guide_sigma in (0, 10) "
                              f"and attention_guide_layer in 0..{cfg.decoder.layers - 1}")
        if align > 0 and not cfg.decoder.cross:
            raise ConfigError("attention_align needs a decoder with cross-attention")
        self.model = TokenTransformer(cfg)
        self.guide, self.sigma, self.layer, self.align = guide, sigma, layer, align
        self.alignment: torch.Tensor | None = None  # [b, t] source index per target, -100 unknown (the trainer's)
        self.wants_alignment = align > 0  # the trainer refuses data without alignments
        self.token_spec = TrainTokenSpec(cfg.bos, cfg.eos, cfg.pad, cfg.tgt_vocab, cfg.src_pad, cfg.src_vocab)
        self.freeze_parts = {
            "encoder": ["model.encoder.*", "model.src_*"],
            "decoder": ["model.decoder.*", "model.tgt_pos.*", "model.start", "model.head*", "model.exit_*"],
            "embeddings": ["model.src_emb.*", "model.tgt_emb.*"],
        }
        self.early_exit_logits: torch.Tensor | None = None
        self.extra_loss: torch.Tensor | None = None
        self._seen: dict[str, torch.Tensor] = {}
        if guide > 0 or align > 0:
            self.model.encoder.norm.register_forward_hook(self._keep("memory"))
            self.model.decoder.layers[layer].norm_x.register_forward_hook(self._keep("query"))

    def _keep(self, name: str) -> Any:
        def hook(module: nn.Module, args: Any, out: torch.Tensor) -> None:
            self._seen[name] = out
        return hook

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor,
                tgt_lengths: torch.Tensor) -> torch.Tensor:
        self._seen.clear()
        logits, self.early_exit_logits = self.model.forward_exit(src, src_lengths, tgt_in, tgt_lengths)
        self.extra_loss = None
        if self.training and (self.guide > 0 or (self.align > 0 and self.alignment is not None)):
            att, seen = self._attention(src_lengths)
            self.extra_loss = self._guided(att, seen, src_lengths, tgt_lengths) if self.guide > 0 else None
            if self.align > 0 and self.alignment is not None:
                aligned = self._aligned(att)
                self.extra_loss = aligned if self.extra_loss is None else self.extra_loss + aligned
        return logits

    def _attention(self, src_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The guided layer's cross-attention, averaged over heads [b, t, s] (the null key's share left out,
        so rows sum to at most 1), and which source ids are real [b, s]."""
        cross = self.model.decoder.layers[self.layer].cross
        q = cross.queries(self._seen["query"])  # [b, h, t, dh]
        k, _ = cross.keys_values(self._seen["memory"])  # [b, g, s(+1), dh]
        k = k.repeat(1, q.shape[1] // k.shape[1], 1, 1)  # head j reads kv head j mod g
        null = int(cross.null)
        s = k.shape[2] - null
        seen = torch.arange(s, device=q.device)[None, :] < src_lengths[:, None]  # [b, s]
        keys = torch.cat([torch.ones_like(seen[:, :1]), seen], 1) if null else seen
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])  # [b, h, t, s(+1)]
        att = scores.masked_fill(~keys[:, None, None], float("-inf")).softmax(-1).mean(1)[..., null:]  # [b, t, s]
        return att, seen

    def _guided(self, att: torch.Tensor, seen: torch.Tensor, src_lengths: torch.Tensor,
                tgt_lengths: torch.Tensor) -> torch.Tensor:
        """The guided-attention penalty, summed over target tokens (the trainer divides by their count)."""
        _, t, s = att.shape
        n = torch.arange(s, device=att.device)
        pos_t = torch.arange(t, device=att.device)[None, :, None] / tgt_lengths[:, None, None].clamp_min(1)
        pos_n = n[None, None, :] / src_lengths[:, None, None].clamp_min(1)
        prior = 1 - torch.exp(-((pos_n - pos_t) ** 2) / (2 * self.sigma**2))  # [b, t, s]
        valid = (torch.arange(t, device=att.device)[None, :] < tgt_lengths[:, None])[..., None] & seen[:, None]
        return self.guide * (att * prior * valid).sum()

    def _aligned(self, att: torch.Tensor) -> torch.Tensor:
        """The alignment loss: -log of the attention on each target's source id, summed over the targets whose
        alignment is known."""
        align = self.alignment.to(att.device)  # [b, t]
        known = align >= 0
        picked = att.gather(2, align.clamp_min(0).unsqueeze(-1)).squeeze(-1)  # [b, t]
        return self.align * -(picked.clamp_min(1e-6).log() * known).sum()


def init_weights(model: TokenTransformer, std: float = 0.02) -> None:
    """GPT-2's initialization for training from scratch: weights N(0, std) (the residual output projections
    std / sqrt(2 x layers)), biases zero, norm gains one. PyTorch's defaults (N(0, 1) embeddings, tied to the
    logits) start a tied model at a loss of ~150 nats per token."""
    layers = model.cfg.encoder.layers + model.cfg.decoder.layers
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and (name.endswith("weight") and "norm" in name):
                p.fill_(1.0)
            elif name.endswith("bias"):
                p.zero_()
            else:
                scale = std / math.sqrt(2 * layers) if name.endswith(("o.weight", "proj.weight")) else std
                p.normal_(0.0, scale)


def build(options: Mapping[str, Any]) -> TrainableTokens:
    """The "tokens" kind's builder (GPT-2 initialization)."""
    cfg = token_config(options)
    model = TrainableTokens(cfg, float(options.get("attention_guide", 0.0)),
                            float(options.get("attention_guide_sigma", 0.2)), int(options.get("attention_guide_layer", 0)),
                            float(options.get("attention_align", 0.0)))
    init_weights(model.model)
    return model


def generator(model: TrainableTokens, max_len: int) -> Any:
    """Greedy decoding with the engine's decoder (pseudo-labelling)."""
    import numpy as np

    from ..config import Decoding
    from ..errors import DecodeLimitError
    from ..runtimes.token_decoding import Batch, TokenDecoder

    decoder = TokenDecoder(model.model)
    eos = model.token_spec.eos

    def generate(sources: Any) -> list[list[int] | None]:
        dev = next(model.parameters()).device
        width = max(len(s) for s in sources)
        src = torch.full((len(sources), width), model.token_spec.source_pad, dtype=torch.int64)
        for r, s in enumerate(sources):
            src[r, :len(s)] = torch.as_tensor(np.asarray(s))
        lengths = torch.tensor([len(s) for s in sources])
        batch = Batch(src.to(dev), lengths.to(dev), torch.zeros(len(sources), dtype=torch.int64, device=dev))
        was = model.training
        model.eval()
        try:
            rows = decoder.generate(batch, Decoding(temperature=0.0, max_tokens=max_len + 1))
            ended = [True] * len(rows)
        except DecodeLimitError as err:
            rows = err.tokens
            ended = [len(r) > 0 and r[-1] == eos for r in rows]
        finally:
            model.train(was)
        return [[int(x) for x in r[:-1]] if ok else None for r, ok in zip(rows, ended)]

    return generate


def register() -> None:
    """Register the "tokens" kind with the trainer."""
    from .models import register_model
    from .token_eval import synthesizer

    register_model("tokens", build, synthesizer=synthesizer, generator=generator)
