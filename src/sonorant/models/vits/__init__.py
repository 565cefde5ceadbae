"""VITS: text encoder, stochastic/deterministic durations, coupling flows and a HiFi-GAN decoder.

`VitsConfig` and `Encoded` need no tensor library; `Vits` (the `nn.Module`) imports torch when first used.
"""

from typing import TYPE_CHECKING, Any

from .config import VitsConfig
from .types import Encoded

if TYPE_CHECKING:
    from .model import Vits

__all__ = ["Encoded", "Vits", "VitsConfig"]


def __getattr__(name: str) -> Any:
    if name == "Vits":
        from .model import Vits

        return Vits
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
