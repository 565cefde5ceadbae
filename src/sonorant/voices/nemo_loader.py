"""The `nemo` loader: a NeMo FastPitch `.nemo` with a NeMo HiFi-GAN `.nemo` as its vocoder, as a
`LoadedVoice` of the FastPitch family.

The voice's card and text front end come from the archives' configs and artifacts alone (no torch);
the weights are read, weight norm folded, only when a runtime needs the model (`voices.nemo`). The
cache key of exported graphs is the digest of both files.
"""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import VoiceError
from .card import LoadedVoice, VoiceCard
from .nemo import FASTPITCH_TARGET, HIFIGAN_TARGET, read_nemo

if TYPE_CHECKING:
    from ..runtimes.cache import LazyModel
    from ..text.pipeline import TextPipeline

def probe(path: Path) -> bool:
    """Whether `path` is a NeMo archive (a tar, gzip or not, holding a model_config.yaml)."""
    if path.suffix != ".nemo":
        return False
    try:
        with tarfile.open(path, "r:*") as tar:
            return any(Path(m.name).name == "model_config.yaml" for m in tar.getmembers())
    except (tarfile.TarError, OSError, EOFError):
        return False


def model_class(config: dict[str, Any]) -> str:
    """The NeMo model class a config names (its `target`'s last part), or ""."""
    return str(config.get("target") or config.get("_target_") or "").rpartition(".")[2]


OPTIONS = ("vocoder",)
"""The options `load` takes."""


def load(path: Path, *, name: str | None = None, vocoder: str | Path | None = None) -> LoadedVoice:
    """The FastPitch voice at `path` spoken through the HiFi-GAN `vocoder` (both `.nemo`)."""
    archive = read_nemo(path, weights=False)
    config, artifacts = archive.config, archive.artifacts
    kind = model_class(config)
    if kind != FASTPITCH_TARGET:
        raise VoiceError(f"{path} is a NeMo {kind or 'model without a target'}, not a FastPitch spectrogram "
                         f"generator (the voice); a {HIFIGAN_TARGET} is its vocoder=")
    if vocoder is None:
        raise VoiceError(f"{path} is a FastPitch spectrogram generator: it needs a mel vocoder, e.g. "
                         "load_voice(voice, vocoder='hifigan.nemo') or --vocoder hifigan.nemo")
    vocoder = Path(vocoder).expanduser()
    if not vocoder.is_file():
        raise VoiceError(f"vocoder not found: {vocoder}")
    vocoder_config = read_nemo(vocoder, weights=False).config
    if model_class(vocoder_config) != HIFIGAN_TARGET:
        raise VoiceError(f"{vocoder} is a NeMo {model_class(vocoder_config) or 'model without a target'}, "
                         f"not a {HIFIGAN_TARGET} mel vocoder")
    tokenizer_cfg = config.get("text_tokenizer")
    if not isinstance(tokenizer_cfg, dict):
        raise VoiceError(f"{path}: its config has no text_tokenizer section")
    n_speakers = int(config.get("n_speakers") or 1)
    card = VoiceCard(
        name=name or path.stem, family="fastpitch", sample_rate=int(config.get("sample_rate") or 22050),
        language=_language(tokenizer_cfg), num_speakers=n_speakers,
    )
    return LoadedVoice(card, model_source(path, vocoder), _pipeline_factory(tokenizer_cfg, artifacts, card.language),
                       path, config)


def _language(tokenizer_cfg: dict[str, Any]) -> str:
    g2p = tokenizer_cfg.get("g2p") or {}
    locale = tokenizer_cfg.get("locale") or (g2p.get("locale") if isinstance(g2p, dict) else None)
    return str(locale or "en-US").replace("-", "_")


def model_source(path: Path, vocoder: Path) -> LazyModel:
    """The paired model (FastPitch + HiFi-GAN), built from both files when a runtime needs the weights."""
    from ..runtimes.cache import LazyModel, file_digest
    from .nemo import load_nemo_model

    def digest() -> str:
        return hashlib.sha256(f"{file_digest(path)}+{file_digest(vocoder)}".encode()).hexdigest()

    return LazyModel(digest, lambda: load_nemo_model(path, vocoder), f"{path} + {vocoder}")


def _pipeline_factory(tokenizer_cfg: dict[str, Any], artifacts: dict[str, bytes], language: str):  # noqa: ANN202
    state: dict[str, Any] = {}

    def build(normalize: bool, max_ids: int) -> TextPipeline:
        from ..text.nemo import NemoTokenizer
        from ..text.normalizer import has_normalizer, identity
        from ..text.pipeline import TextPipeline

        if "tokenizer" not in state:  # one tokenizer (its dictionary) for both pipelines
            state["tokenizer"] = NemoTokenizer.from_config(tokenizer_cfg, None, artifacts)
        lang = language.split("_")[0].lower()
        return TextPipeline.for_tokenizer(state["tokenizer"], normalizer=None if normalize and has_normalizer(lang)
                                          else identity, max_ids=max_ids, lang=lang)

    return build
