"""FastPitch (NeMo's): an FFT-transformer spectrogram generator, paired with a mel HiFi-GAN as a voice.

`FastPitchConfig` and the spec helpers need no tensor library; the modules import torch when first used.
"""

from typing import TYPE_CHECKING, Any

from .config import FastPitchConfig, FFTConfig, PredictorConfig

if TYPE_CHECKING:
    from .model import FastPitch
    from .voice import FastPitchVoice

__all__ = ["FFTConfig", "FastPitch", "FastPitchConfig", "FastPitchVoice", "PredictorConfig"]


def __getattr__(name: str) -> Any:
    if name == "FastPitch":
        from .model import FastPitch

        return FastPitch
    if name == "FastPitchVoice":
        from .voice import FastPitchVoice

        return FastPitchVoice
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
