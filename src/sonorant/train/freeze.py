"""Freezing controls: keep named parts or pattern-matched parameters of a model fixed while the rest trains.

Spear-TTS trains in stages that freeze parts: the speech-to-text back-translation model keeps its encoder
(from the pretraining) fixed, and the final text-to-speech model keeps its decoder and the lower encoder
layers fixed. Here a part name stands for shell-style patterns on parameter names: the model's own
`freeze_parts` mapping when it has one, else `DEFAULT_PARTS`; `freeze.patterns` adds patterns directly
("encoder.layers.[01].*" freezes the first two encoder layers). Frozen parameters get requires_grad False
and are left out of the optimizer, so neither gradients nor weight decay move them.
"""

from __future__ import annotations

import difflib
import fnmatch
import logging
from collections.abc import Mapping, Sequence

from torch import nn

from ..errors import ConfigError

_LOG = logging.getLogger(__name__)

DEFAULT_PARTS: Mapping[str, tuple[str, ...]] = {
    "encoder": ("encoder.*",),
    "decoder": ("decoder.*",),
    "embeddings": ("*emb*",),
}
"""Part names -> parameter-name patterns, for models without a `freeze_parts` attribute."""


def part_patterns(model: nn.Module) -> Mapping[str, Sequence[str]]:
    """The model's part names and their patterns."""
    parts = getattr(model, "freeze_parts", None)
    return parts if isinstance(parts, Mapping) else DEFAULT_PARTS


def apply_freeze(model: nn.Module, parts: Sequence[str], patterns: Sequence[str]) -> list[str]:
    """Freeze the parameters named by `parts` and `patterns` (every one must match a parameter); returns the
    frozen names, sorted. Parameters not named keep requires_grad True."""
    known = part_patterns(model)
    names = [name for name, _ in model.named_parameters()]
    chosen: list[tuple[str, str]] = []
    for part in parts:
        if part not in known:
            hint = difflib.get_close_matches(part, list(known), n=1)
            raise ConfigError(f"freeze.parts: unknown part {part!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                              + f"; this model has {', '.join(known)}")
        chosen += [(f"freeze.parts: {part!r}", p) for p in known[part]]
    chosen += [("freeze.patterns", p) for p in patterns]
    frozen: set[str] = set()
    for where, pattern in chosen:
        hits = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not hits:
            raise ConfigError(f"{where}: pattern {pattern!r} matches no parameter of the model (its parameters "
                              f"start {', '.join(names[:4])}, ...)")
        frozen.update(hits)
    for name, param in model.named_parameters():
        param.requires_grad_(name not in frozen)
    if frozen and len(frozen) == len(names):
        raise ConfigError("freeze: every parameter of the model is frozen; nothing would train")
    if frozen:
        count = sum(p.numel() for n, p in model.named_parameters() if n in frozen)
        _LOG.info("froze %d parameter tensors (%d values)", len(frozen), count)
    return sorted(frozen)
