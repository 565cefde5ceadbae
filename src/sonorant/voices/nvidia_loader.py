"""The `nvidia` loader: a Tacotron2 checkpoint from NVIDIA's DeepLearningExamples with a WaveGlow checkpoint
as its vocoder, as a `LoadedVoice` of the Tacotron2 family.

Both are PyTorch files as DLE's training saves them (`voices.nvidia` reads them). Telling them apart needs
no torch: a checkpoint's pickled key names sit uncompressed near the start of the file (in both the zip
format and the legacy one), so `probe` looks for the module names each model is made of. The weights are
read when a runtime needs the model; the cache key of exported graphs is the digest of both files and
the options that change the graphs (denoiser strength, decode block, step bound).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError, VoiceError
from .card import LoadedVoice, VoiceCard

if TYPE_CHECKING:
    from ..runtimes.cache import LazyModel
    from ..text.pipeline import TextPipeline

OPTIONS = ("vocoder", "denoise", "max_steps", "block")
"""The options `load` takes (`load_voice(..., vocoder=...)`, the CLI's --vocoder / --denoise)."""
SAMPLE_RATE = 22050
"""DLE's Tacotron2 and WaveGlow are trained on 22.05 kHz audio (LJSpeech); their checkpoints do not say it."""
DENOISE = 0.01
"""Default strength of WaveGlow's bias-removal denoiser: DLE's inference scripts' default."""
_HEAD = 4 << 20  # bytes scanned by `kind`
_MARKERS = {
    "tacotron2": (b"decoder.attention_rnn", b"postnet.convolutions"),
    "waveglow": (b"convinv.", b"upsample.weight"),
}


def kind(path: Path) -> str | None:
    """"tacotron2" or "waveglow" for a DLE checkpoint of that model, else None (cheap: no unpickling)."""
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD)
    except OSError:
        return None
    for name, markers in _MARKERS.items():
        if all(m in head for m in markers):
            return name
    return None


def probe(path: Path) -> bool:
    """Whether `path` is a DLE Tacotron2 or WaveGlow checkpoint (a WaveGlow alone then gets a clear error)."""
    return path.suffix not in (".onnx", ".json", ".nemo") and kind(path) is not None


def load(path: Path, *, name: str | None = None, vocoder: str | Path | None = None, denoise: float = DENOISE,
         max_steps: int | None = None, block: int | None = None) -> LoadedVoice:
    """The Tacotron2 voice at `path` spoken through the WaveGlow `vocoder`. `denoise` is the strength of
    DLE's denoiser (0 turns it off); `max_steps` bounds the decoder (default: the checkpoint's config or
    DLE's 2000); `block` is the decode stage's steps per call (default 16)."""
    if kind(path) == "waveglow":
        raise VoiceError(f"{path} is a WaveGlow vocoder, not a voice: load the Tacotron2 checkpoint with "
                         f"vocoder='{path.name}'")
    if vocoder is None:
        raise VoiceError(f"{path} is a Tacotron2 spectrogram generator: it needs its WaveGlow vocoder, e.g. "
                         "load_voice(voice, vocoder='waveglow.pt') or --vocoder waveglow.pt")
    vocoder = Path(vocoder).expanduser()
    if not vocoder.is_file():
        raise VoiceError(f"vocoder not found: {vocoder}")
    if kind(vocoder) != "waveglow":
        raise VoiceError(f"{vocoder} is not a WaveGlow checkpoint from NVIDIA's DeepLearningExamples")
    if not 0.0 <= float(denoise) <= 1.0:
        raise ConfigError(f"denoise must be in [0, 1] (DLE's default is {DENOISE}), got {denoise}")
    if max_steps is not None and not 1 <= int(max_steps) <= 100_000:
        raise ConfigError(f"max_steps must be in [1, 100000], got {max_steps}")
    if block is not None and not 1 <= int(block) <= 256:
        raise ConfigError(f"block must be in [1, 256] steps, got {block}")
    card = VoiceCard(name=name or path.stem, family="tacotron2", sample_rate=SAMPLE_RATE, language="en_US")
    options = {"denoise": float(denoise), "max_steps": max_steps, "block": block}
    return LoadedVoice(card, model_source(path, vocoder, options), _pipeline, path, options)


def model_source(path: Path, vocoder: Path, options: dict) -> LazyModel:
    """The paired model (Tacotron2 + WaveGlow), built from both files when a runtime needs the weights."""
    from ..runtimes.cache import LazyModel, file_digest

    def digest() -> str:
        key = f"{file_digest(path)}+{file_digest(vocoder)}+{sorted(options.items())}"
        return hashlib.sha256(key.encode()).hexdigest()

    def build():  # noqa: ANN202 - a Tacotron2Voice
        from .nvidia import load_tacotron2_voice

        return load_tacotron2_voice(path, vocoder, **options)

    return LazyModel(digest, build, f"{path} + {vocoder}")


def _pipeline(normalize: bool, max_ids: int) -> TextPipeline:
    from ..text.dle import tacotron2_pipeline

    return tacotron2_pipeline(normalize, max_ids)
