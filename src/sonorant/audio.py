"""Audio results: whole utterances (`Audio`) and streamed pieces (`AudioChunk`), with file writing."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ConfigError


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] -> int16 PCM (clipped)."""
    return (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype(np.int16)


OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
"""The only sample rates an Opus stream can have."""


def opus_rate(sample_rate: int) -> int:
    """The Opus rate audio at `sample_rate` is resampled to: the smallest one not below it."""
    return next((r for r in OPUS_RATES if r >= sample_rate), OPUS_RATES[-1])


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling (scipy) of mono float samples; the same array when the rates match."""
    if rate_in == rate_out:
        return samples
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(rate_in, rate_out)
    return resample_poly(samples, rate_out // g, rate_in // g).astype(np.float32)


FILE_FORMATS = {".wav": "wav", ".flac": "flac", ".mp3": "mp3", ".ogg": "ogg", ".opus": "opus", ".pcm": "pcm",
                ".raw": "pcm"}
"""File suffixes `Audio.save` and the CLI understand, and the format each one means (.ogg: Ogg Vorbis)."""


def format_of(path: str | Path) -> str:
    """The audio format a file name asks for (`FILE_FORMATS`); `ConfigError` for any other suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in FILE_FORMATS:
        known = ", ".join(FILE_FORMATS)
        raise ConfigError(f"cannot tell which audio format to write to {str(path)!r}: use a file name ending in {known}")
    return FILE_FORMATS[suffix]


def encode_audio(samples: np.ndarray, sample_rate: int, fmt: str = "wav") -> bytes:
    """Mono float samples -> bytes of a WAV (16-bit PCM), FLAC, MP3, Ogg Vorbis, Ogg Opus (resampled to an
    Opus rate, see `opus_rate`), or raw 16-bit little-endian PCM file."""
    fmt = fmt.lower()
    if fmt == "pcm":
        return to_int16(samples).astype("<i2").tobytes()
    if fmt not in ("wav", "flac", "mp3", "ogg", "opus"):
        raise ConfigError(f"unsupported audio format {fmt!r}: use wav, flac, mp3, ogg, opus or pcm")
    import soundfile as sf

    buf = io.BytesIO()
    if fmt == "mp3":
        sf.write(buf, samples, sample_rate, format="MP3", subtype="MPEG_LAYER_III")
    elif fmt == "ogg":
        sf.write(buf, samples, sample_rate, format="OGG", subtype="VORBIS")
    elif fmt == "opus":
        rate = opus_rate(sample_rate)
        sf.write(buf, resample(samples, sample_rate, rate), rate, format="OGG", subtype="OPUS")
    else:
        sf.write(buf, to_int16(samples), sample_rate, format=fmt.upper(), subtype="PCM_16")
    return buf.getvalue()


@dataclass(frozen=True)
class Audio:
    """A synthesized utterance: float32 mono samples in [-1, 1] at `sample_rate` Hz."""

    samples: np.ndarray
    """Float32 mono samples in [-1, 1]."""
    sample_rate: int
    """Samples per second."""
    seed: int | None = None
    """Seed the noise was drawn from (reuse it to get the same audio again)."""

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate

    def to_int16(self) -> np.ndarray:
        """The samples as 16-bit PCM."""
        return to_int16(self.samples)

    def to_bytes(self, fmt: str = "wav") -> bytes:
        """The audio encoded as a wav, flac, mp3, ogg (Vorbis), opus or raw pcm file."""
        return encode_audio(self.samples, self.sample_rate, fmt)

    def save(self, path: str | Path, fmt: str | None = None) -> Path:
        """Write to `path` (through a temporary file, renamed when complete); the format follows the suffix
        (`FILE_FORMATS`: .wav, .flac, .mp3, .ogg, .opus, .pcm/.raw) unless given."""
        path = Path(path)
        data = self.to_bytes(fmt or format_of(path))
        tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path


@dataclass(frozen=True)
class AudioChunk:
    """A piece of a stream: one sentence now, smaller windows once the engine streams inside sentences."""

    samples: np.ndarray
    """Float32 mono samples in [-1, 1]."""
    sample_rate: int
    """Samples per second."""
    sentence_index: int
    """Which sentence of the input this chunk belongs to (0-based)."""
    is_last: bool
    """True for the final chunk of the whole stream."""
    text: str = ""
    """The sentence's text (or phonemes) when known."""
    phoneme_ids: list[int] = field(default_factory=list)
    """The ids the sentence was synthesized from."""

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate
