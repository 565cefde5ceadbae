"""Tacotron 2 (NVIDIA DeepLearningExamples'): an autoregressive attention spectrogram generator, paired
with a WaveGlow vocoder as a voice.

`Tacotron2Config` and the spec helpers need no tensor library; the modules import torch when first used.
"""

from typing import TYPE_CHECKING, Any

from .config import Tacotron2Config

if TYPE_CHECKING:
    from .model import Tacotron2
    from .voice import Tacotron2Voice

__all__ = ["Tacotron2", "Tacotron2Config", "Tacotron2Voice"]


def __getattr__(name: str) -> Any:
    if name == "Tacotron2":
        from .model import Tacotron2

        return Tacotron2
    if name == "Tacotron2Voice":
        from .voice import Tacotron2Voice

        return Tacotron2Voice
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
