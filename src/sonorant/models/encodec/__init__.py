"""Encodec (Meta's causal 24 kHz neural codec): `EncodecConfig` and the `EncodecCodec` module, a `Codec`
(`models.base`) that turns codes into audio, whole or streamed, and audio into codes.

The config needs no tensor library; the modules import torch when first used.
"""

from typing import TYPE_CHECKING, Any

from .config import EncodecConfig

if TYPE_CHECKING:
    from .model import EncodecCodec, EncodecStream

__all__ = ["EncodecCodec", "EncodecConfig", "EncodecStream"]


def __getattr__(name: str) -> Any:
    if name in ("EncodecCodec", "EncodecStream"):
        from . import model

        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
