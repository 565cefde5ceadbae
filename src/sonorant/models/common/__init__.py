"""Blocks more than one family uses: the HiFi-GAN generator (VITS's decoder, NeMo's vocoder), mel configs,
static length regulation (`regulate`).

`GeneratorConfig`, `MelConfig` and `generator_reach` need no tensor library; the modules import torch when
first used.
"""

from typing import TYPE_CHECKING, Any

from .generator_config import NEMO_V1, NEMO_V2, NEMO_V3, GeneratorConfig, generator_reach
from .mel import MelConfig

if TYPE_CHECKING:
    from .hifigan import Generator

__all__ = ["NEMO_V1", "NEMO_V2", "NEMO_V3", "Generator", "GeneratorConfig", "MelConfig", "generator_reach"]


def __getattr__(name: str) -> Any:
    if name == "Generator":
        from .hifigan import Generator

        return Generator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
