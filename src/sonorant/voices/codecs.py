"""Token codecs (codes <-> audio) a token voice speaks through: a lazy registry like the voices'.

A codec module offers `probe(path) -> bool`, `info(path) -> CodecInfo` (torch-free: what a voice card
needs) and `load(path) -> a models.base.Codec module`. `locate_codec` asks each in turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

from ..errors import VoiceError

CODECS: dict[str, str] = {
    "units": "sonorant.voices.units",
    "encodec": "sonorant.voices.encodec",
}
"""Codec format -> module (probed in this order)."""


@dataclass(frozen=True)
class CodecInfo:
    """What a codec file says about itself without loading weights."""

    name: str
    """A label ("encodec_24khz", "units")."""
    sample_rate: int
    """Audio samples per second."""


def locate_codec(path: str | Path) -> tuple[str, Path]:
    """(codec format, path) for a codec file or directory; VoiceError if none reads it."""
    p = Path(path).expanduser()
    if not p.exists():
        raise VoiceError(f"codec not found: {p}")
    for kind, module in CODECS.items():
        if import_module(module).probe(p):
            return kind, p
    raise VoiceError(f"{p} is not a codec sonorant can load: expected Meta's Encodec (.th), a transformers "
                     "EncodecModel directory, or a sonorant unit codec")


def codec_info(path: str | Path) -> CodecInfo:
    """The codec's `CodecInfo` (torch-free)."""
    kind, p = locate_codec(path)
    return import_module(CODECS[kind]).info(p)


def load_codec(path: str | Path) -> Any:
    """The codec module at `path`."""
    kind, p = locate_codec(path)
    return import_module(CODECS[kind]).load(p)
