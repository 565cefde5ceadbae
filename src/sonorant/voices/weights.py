"""State-dict helpers shared by checkpoint loaders: weight norm folding and key/shape checks."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..errors import VoiceError

_PAIRS = ((".weight_g", ".weight_v", ".weight"),
          (".parametrizations.weight.original0", ".parametrizations.weight.original1", ".weight"))


def fold_weight_norm(state: Mapping[str, Any]) -> dict[str, Any]:
    """`state` with each weight-normed tensor pair (`X.weight_g` / `X.weight_v`, or the parametrization's
    `X.parametrizations.weight.original0` / `original1`) replaced by the plain `X.weight` = v * g / |v|,
    the norm taken over every axis but the one g keeps (axis 0 for convolutions and transposed ones)."""
    import torch

    out: dict[str, Any] = {}
    done: set[str] = set()
    for key, value in state.items():
        for g_suffix, v_suffix, w_suffix in _PAIRS:
            if key.endswith(g_suffix):
                stem = key[: -len(g_suffix)]
                v = state.get(stem + v_suffix)
                if v is None:
                    raise VoiceError(f"weight norm: {key} has no matching {stem + v_suffix}")
                g = value
                if g.dim() == 0:
                    w = v * (g / v.norm())
                else:
                    keep = _norm_axis(tuple(g.shape), tuple(v.shape), key)
                    axes = [a for a in range(v.dim()) if a != keep]
                    w = v * (g / torch.linalg.vector_norm(v, dim=axes, keepdim=True))
                out[stem + w_suffix] = w
                done.add(stem + v_suffix)
                break
        else:
            if key not in done and not any(key.endswith(v) for _, v, _ in _PAIRS):
                out[key] = value
    orphans = [k for k in state if any(k.endswith(v) for _, v, _ in _PAIRS) and k not in done]
    if orphans:
        raise VoiceError(f"weight norm: {orphans[0]} has no matching magnitude (weight_g / original0)")
    return out


def _norm_axis(g_shape: tuple[int, ...], v_shape: tuple[int, ...], key: str) -> int:
    """The axis weight norm kept: where g has v's size and every other axis of g is 1 (axis 0 if ambiguous)."""
    if len(g_shape) != len(v_shape):
        raise VoiceError(f"weight norm: {key} has shape {g_shape}, its direction {v_shape}")
    axes = [a for a, (gs, vs) in enumerate(zip(g_shape, v_shape)) if gs == vs and gs != 1]
    if len(axes) > 1 or math.prod(g_shape) != (v_shape[axes[0]] if axes else 1):
        raise VoiceError(f"weight norm: {key} has shape {g_shape}, its direction {v_shape}")
    return axes[0] if axes else 0


def check_state(source: str, expected: Mapping[str, Any], state: Mapping[str, Any], what: str) -> None:
    """Raise `VoiceError` naming the missing keys or the first mis-shaped one of `state` against the model's
    own `expected` state dict."""
    missing = sorted(k for k in expected if k not in state)
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise VoiceError(f"{source} is not a complete {what}: missing {shown}")
    for key, ref in expected.items():
        if tuple(state[key].shape) != tuple(ref.shape):
            raise VoiceError(f"{source}: weight {key} has shape {tuple(state[key].shape)}, "
                             f"expected {tuple(ref.shape)} from its config")
