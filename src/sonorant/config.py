"""Per-request synthesis settings and their validation."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import ConfigError


@dataclass(frozen=True)
class SynthesisConfig:
    """How to speak: fields left None take the voice's own defaults (its `inference` section)."""

    length_scale: float | None = None
    """Duration multiplier: > 1 speaks slower, < 1 faster."""
    noise_scale: float | None = None
    """Prior noise (expressiveness of the waveform); 0 makes the output deterministic given durations."""
    noise_w: float | None = None
    """Duration noise (rhythm variation); 0 gives deterministic durations."""
    speaker: int | str | None = None
    """Speaker id or name for multi-speaker voices (None = the voice's first speaker)."""
    seed: int | None = None
    """Seed of all noise, 0 <= seed < 2^63 (sentence i uses seed + i); the same text, settings and seed give
    the same audio on any device and in any batch (None = a random seed)."""
    sentence_silence: float = 0.0
    """Seconds of silence inserted after each sentence but the last."""
    normalize_text: bool = True
    """Read numbers, dates, money, abbreviations, ... as words before phonemizing (False: espeak as written)."""
    volume: float = 1.0
    """Gain applied to the samples (0 to 100; samples past [-1, 1] are clipped when written as 16-bit PCM)."""
    normalize_audio: bool = False
    """Scale each sentence so its loudest sample reaches full scale before `volume` applies, as Piper does by
    default (False: the model's own level, which is what parity tests compare)."""


@dataclass(frozen=True)
class ResolvedConfig:
    """A `SynthesisConfig` with the voice's defaults filled in and every value checked."""

    length_scale: float
    """Duration multiplier (> 0)."""
    noise_scale: float
    """Prior noise (>= 0)."""
    noise_w: float
    """Duration noise (>= 0)."""
    speaker_id: int | None
    """Speaker index, or None for a single-speaker voice."""
    seed: int | None
    """Base seed (sentence i uses seed + i), or None to draw one."""
    sentence_silence: float
    """Seconds between sentences (>= 0)."""
    normalize_text: bool = True
    """Whether the text front end normalizes text."""
    volume: float = 1.0
    """Gain on the samples (>= 0)."""
    normalize_audio: bool = False
    """Whether each sentence is peak-normalized before the gain."""


def _number(name: str, value: object, *, positive: bool = False, limit: float = 100.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be finite, got {value}")
    if value < 0 or (positive and value == 0):
        raise ConfigError(f"{name} must be {'> 0' if positive else '>= 0'}, got {value}")
    if value > limit:
        raise ConfigError(f"{name} must be at most {limit}, got {value}")
    return value


def resolve_config(
    cfg: SynthesisConfig | None,
    *,
    length_scale: float,
    noise_scale: float,
    noise_w: float,
    num_speakers: int,
    speaker_id_map: dict[str, int],
) -> ResolvedConfig:
    """Fill `cfg`'s unset fields from a voice's defaults and validate all of them (ConfigError if bad)."""
    cfg = cfg or SynthesisConfig()
    if not isinstance(cfg, SynthesisConfig):
        raise ConfigError(f"expected a sonorant.SynthesisConfig, got {type(cfg).__name__}")
    speaker = cfg.speaker
    speaker_id: int | None = None
    if num_speakers > 1:
        if speaker is None:
            speaker_id = 0
        elif isinstance(speaker, str) and not speaker.lstrip("-").isdigit():
            if speaker not in speaker_id_map:
                names = ", ".join(sorted(speaker_id_map)[:20]) or "none"
                raise ConfigError(f"unknown speaker {speaker!r}; this voice's speakers: {names}")
            speaker_id = speaker_id_map[speaker]
        elif isinstance(speaker, (int, str)) and not isinstance(speaker, bool):
            speaker_id = int(speaker)
            if not 0 <= speaker_id < num_speakers:
                raise ConfigError(f"speaker {speaker_id} is out of range: this voice has speakers 0..{num_speakers - 1}")
        else:
            raise ConfigError(f"speaker must be an id or a name, got {speaker!r}")
    elif speaker not in (None, 0, "0"):
        raise ConfigError(f"this voice has a single speaker; speaker {speaker!r} cannot be chosen")
    seed = cfg.seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63):
        raise ConfigError(f"seed must be an integer from 0 to 2^63 - 1, got {seed!r}")
    return ResolvedConfig(
        length_scale=_number("length_scale", length_scale if cfg.length_scale is None else cfg.length_scale,
                             positive=True, limit=20.0),
        noise_scale=_number("noise_scale", noise_scale if cfg.noise_scale is None else cfg.noise_scale, limit=10.0),
        noise_w=_number("noise_w", noise_w if cfg.noise_w is None else cfg.noise_w, limit=10.0),
        speaker_id=speaker_id,
        seed=seed,
        sentence_silence=_number("sentence_silence", cfg.sentence_silence, limit=60.0),
        normalize_text=bool(cfg.normalize_text),
        volume=_number("volume", cfg.volume, limit=100.0),
        normalize_audio=_flag("normalize_audio", cfg.normalize_audio),
    )


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be True or False, got {value!r}")
    return value
