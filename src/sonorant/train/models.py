"""What the trainer needs of a model, and the registry that builds models from the config's model.kind.

A trainable token model is an encoder-decoder `nn.Module` called with teacher forcing:

    model(src [b, s] i64, src_lengths [b] i64, tgt_in [b, t] i64, tgt_lengths [b] i64) -> logits [b, t, V]

where `tgt_in` starts with `model.token_spec.bos` and holds `pad` past each row's length; the trainer's
targets are `tgt_in` shifted left with `eos` appended. A model with an early-exit head (Spear-TTS) also sets
`model.early_exit_logits` ([b, t, V], or None when the head is off) in each forward; the trainer weighs its
loss with train.early_exit_weight. A model with an `alignment` attribute is given each batch's `Batch.align`
there before its forward ([b, t] source index per target token, -100 unknown; None when the manifest has
no durations; a model with `wants_alignment` true is refused data without any), and may add a loss of its own on `model.extra_loss` (summed over tokens; the trainer logs it
as aux_loss). `model.freeze_parts` (optional) maps part names to parameter-name patterns for the freeze
section.

Model kinds are registered by the modules that define them (`register_model`); the synthesizer and the
generator of a kind are optional and wire the trainer's evaluation and pseudo-labelling to the engine.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..errors import ConfigError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .config import TrainConfig


class TokenSpec(Protocol):
    """The special ids and vocabulary of a model's target side."""

    bos: int
    """The id `tgt_in` starts with."""
    eos: int
    """The id that ends a target."""
    pad: int
    """The id `tgt_in` holds past a row's length."""
    vocab_size: int
    """Logits per position (V); every target id is below it."""


class TokenModel(Protocol):
    """An encoder-decoder the trainer can teach (see the module docstring)."""

    token_spec: TokenSpec

    def __call__(self, src: "torch.Tensor", src_lengths: "torch.Tensor", tgt_in: "torch.Tensor",
                 tgt_lengths: "torch.Tensor") -> "torch.Tensor":
        """Teacher-forced logits [b, t, V]."""
        ...


Synthesize = Callable[[list[str]], tuple[list[np.ndarray], int]]
"""texts -> (one float waveform per text, sample rate): what the eval hook listens to."""
Generate = Callable[[Sequence[np.ndarray]], list[list[int] | None]]
"""sources (one id array each) -> generated target ids without BOS/EOS, None where a row never ended."""


@dataclass(frozen=True)
class ModelKind:
    """How to build a kind of model, and optionally how to listen to it and decode with it."""

    build: Callable[[Mapping[str, Any]], "nn.Module"]
    """model.options -> a new model (random init; the trainer seeds torch first)."""
    synthesizer: Callable[["nn.Module", "TrainConfig"], Synthesize] | None = None
    """(the model being trained, the config) -> a synthesize callable that speaks with its current weights."""
    generator: Callable[["nn.Module", int], Generate] | None = None
    """(model, max target length) -> a generate callable (greedy) for pseudo-labelling; None: the trainer's
    own slow reference greedy decoder (`sonorant.train.generate.greedy_generate`)."""


MODELS: dict[str, ModelKind] = {}
"""Model kinds by name (model.kind)."""


def register_model(kind: str, build: Callable[[Mapping[str, Any]], "nn.Module"], *,
                   synthesizer: Callable[["nn.Module", "TrainConfig"], Synthesize] | None = None,
                   generator: Callable[["nn.Module", int], Generate] | None = None) -> None:
    """Make `kind` buildable from a config (a later registration of the same kind replaces it)."""
    MODELS[kind] = ModelKind(build, synthesizer, generator)


def model_kind(kind: str) -> ModelKind:
    """The registered kind, or a ConfigError listing the known ones."""
    if kind not in MODELS and kind == "tokens":  # the built-in kind registers itself on first use
        from .token_model import register

        register()
    if kind in MODELS:
        return MODELS[kind]
    hint = difflib.get_close_matches(kind, list(MODELS), n=1)
    known = ", ".join(sorted(MODELS)) or "none are registered"
    raise ConfigError(f"model.kind: unknown model kind {kind!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                      + f"; known kinds: {known}")


def build_model(kind: str, options: Mapping[str, Any]) -> "nn.Module":
    """A new model of `kind`, checked to offer the token_spec the trainer needs."""
    model = model_kind(kind).build(options)
    spec = getattr(model, "token_spec", None)
    missing = [a for a in ("bos", "eos", "pad", "vocab_size") if not isinstance(getattr(spec, a, None), int)]
    if spec is None or missing:
        raise ConfigError(f"model kind {kind!r} builds a {type(model).__name__} without a token_spec giving "
                          f"integer {', '.join(missing or ['bos', 'eos', 'pad', 'vocab_size'])}")
    return model
