"""Mel HiFi-GAN vocoders (NeMo's): `MelConfig`, `HifiGanConfig` and the `HifiGan` module.

The configs need no tensor library; `HifiGan` (the `nn.Module`) imports torch when first used.
"""

from typing import TYPE_CHECKING, Any

from .config import HifiGanConfig, MelConfig

if TYPE_CHECKING:
    from .model import HifiGan

__all__ = ["HifiGan", "HifiGanConfig", "MelConfig"]


def __getattr__(name: str) -> Any:
    if name == "HifiGan":
        from .model import HifiGan

        return HifiGan
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
