"""A mel HiFi-GAN's shape: the mel it expects and its generator, torch-free."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..common.generator_config import GeneratorConfig
from ..common.mel import MelConfig


@dataclass(frozen=True)
class HifiGanConfig:
    """A mel -> waveform HiFi-GAN vocoder: the mel it expects and its generator's shape."""

    mel: MelConfig = field(default_factory=MelConfig)
    """The mel frames it was trained on."""
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    """The generator (NeMo's v1 by default)."""

    def to_dict(self) -> dict[str, Any]:
        """Nested dicts of JSON-friendly values."""
        return {"mel": self.mel.to_dict(), "generator": self.generator.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HifiGanConfig:
        """The inverse of `to_dict`."""
        unknown = sorted(set(data) - {"mel", "generator"})
        if unknown:
            raise ValueError(f"unknown HifiGanConfig fields: {', '.join(unknown)}")
        return cls(MelConfig.from_dict(data.get("mel", {})), GeneratorConfig.from_dict(data.get("generator", {})))
