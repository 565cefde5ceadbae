"""WaveGlow vocoders (NVIDIA DeepLearningExamples'): `WaveGlowConfig`, the `WaveGlow` module and its
bias-removal `Denoiser`.

The config needs no tensor library; the modules import torch when first used.
"""

from typing import TYPE_CHECKING, Any

from .config import WaveGlowConfig

if TYPE_CHECKING:
    from .denoiser import Denoiser
    from .model import WaveGlow

__all__ = ["Denoiser", "WaveGlow", "WaveGlowConfig"]


def __getattr__(name: str) -> Any:
    if name == "WaveGlow":
        from .model import WaveGlow

        return WaveGlow
    if name == "Denoiser":
        from .denoiser import Denoiser

        return Denoiser
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
