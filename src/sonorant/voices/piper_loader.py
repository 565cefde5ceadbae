"""The `piper` loader: a Piper voice (`.onnx` + `.onnx.json`) as a `LoadedVoice` of the VITS family."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import VoiceError
from .card import LoadedVoice, VoiceCard
from .piper import PiperVoiceConfig, read_piper_config

if TYPE_CHECKING:
    from ..runtimes.cache import LazyModel
    from ..text.pipeline import TextPipeline


def config_path(model: Path) -> Path:
    """The `.onnx.json` beside a Piper `.onnx`."""
    return model.with_name(model.name + ".json")


def probe(path: Path) -> bool:
    """Whether `path` is a Piper voice: an `.onnx` file (its `.onnx.json` is checked by `load`)."""
    return path.suffix == ".onnx"


OPTIONS = ("vocoder",)
"""The options `load` takes."""


def load(path: Path, *, name: str | None = None, vocoder: str | Path | None = None) -> LoadedVoice:
    """The Piper voice at `path` (its card read now, its weights when a runtime needs them)."""
    if vocoder is not None:
        raise VoiceError("a Piper voice has its own vocoder: do not give one")
    side = config_path(path)
    if not side.is_file():
        raise VoiceError(f"voice config not found: {side} (a Piper voice needs its .onnx.json beside the .onnx)")
    config = read_piper_config(side)
    card = VoiceCard(
        name=name or path.name.removesuffix(".onnx"), family="vits", sample_rate=config.sample_rate,
        language=config.language, quality=config.quality, speakers=dict(config.speaker_id_map),
        num_speakers=config.num_speakers,
        knob_defaults={"length_scale": config.length_scale, "noise_scale": config.noise_scale,
                       "noise_w": config.noise_w},
    )
    return LoadedVoice(card, model_source(path, config.sample_rate), _pipeline_factory(config), path, config)


def model_source(path: Path, sample_rate: int = 22050) -> LazyModel:
    """The voice's model, built from its file only when something needs the weights; its digest (the
    file's SHA-256, remembered per file) keys the caches of exported graphs."""
    from ..runtimes.cache import LazyModel, file_digest
    from .piper import load_piper_model

    return LazyModel(lambda: file_digest(path), lambda: load_piper_model(path, sample_rate), str(path))


def language_of(config: PiperVoiceConfig) -> str:
    """The voice's language as a bare code ("en")."""
    return (config.language or config.espeak_voice or "en").replace("_", "-").split("-")[0].lower()


def _pipeline_factory(config: PiperVoiceConfig):  # noqa: ANN202 - a Callable[[bool, int], TextPipeline]
    def build(normalize: bool, max_ids: int) -> TextPipeline:
        from ..text import get_phonemizer
        from ..text.normalizer import has_normalizer, identity
        from ..text.pipeline import TextPipeline

        lang = language_of(config)
        return TextPipeline(
            get_phonemizer() if config.phoneme_type != "text" else None, config.espeak_voice, config.phoneme_id_map,
            vowel_clusters=set(config.vowel_clusters) or None,
            normalizer=None if normalize and has_normalizer(lang) else identity,
            max_ids=max_ids, lang=lang,
        )

    return build
