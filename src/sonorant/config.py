"""Per-request synthesis settings and their validation."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    from .models.base import Knob


@dataclass(frozen=True)
class SynthesisConfig:
    """How to speak; what is left unset takes the voice's own defaults."""

    knobs: Mapping[str, float] = field(default_factory=dict)
    """The voice family's controls by name (`Voice.knobs` lists them with ranges and defaults): VITS has
    length_scale, noise_scale and noise_w; FastPitch pace, pitch_shift and pitch_scale. Unset ones take
    the voice's defaults; a name the voice's family does not have is an error."""
    speed: float = 1.0
    """Speaking rate for any family (> 1 faster): divides a duration-multiplier knob (VITS's
    length_scale), multiplies a pace knob (FastPitch's pace)."""
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
    decoding: str = "greedy"
    """How a token voice picks its tokens: "greedy", "sample" (temperature, top_k, top_p), "beam" (`beams`
    hypotheses, the best by length-normalized log probability) or "speculative" (the early-exit layer drafts
    `draft` tokens, the full model verifies them in one pass; exact: the same distribution as "sample", the
    same tokens as "greedy" at temperature 0). Other families ignore it."""
    beams: int = 4
    """Beam width for decoding="beam" (1 to 64)."""
    top_k: int = 0
    """Sample only among the k most likely tokens (0: all)."""
    top_p: float = 1.0
    """Sample only from the smallest set of tokens holding this much probability (nucleus; 1: all)."""
    temperature: float = 1.0
    """Softmax temperature for "sample" and "speculative" (0: greedy)."""
    max_tokens: int | None = None
    """Most tokens a sentence may generate, EOS included (None: the voice's bound); a sentence that does not
    end within it is an error, never a silent cut."""
    draft: int = 5
    """Tokens the early-exit layer drafts per verification for decoding="speculative" (1 to 16)."""
    min_tokens: int = 0
    """EOS is impossible before this many tokens (a sentence never comes out empty; 0: no floor)."""


DECODING_METHODS = ("greedy", "sample", "beam", "speculative")


@dataclass(frozen=True)
class Decoding:
    """How a token voice generates a sentence's tokens (checked by `resolve_decoding`)."""

    method: str = "greedy"
    """"greedy", "sample", "beam" or "speculative"."""
    beams: int = 4
    """Beam width (method "beam")."""
    top_k: int = 0
    """Top-k filter (0: off)."""
    top_p: float = 1.0
    """Nucleus filter (1: off)."""
    temperature: float = 1.0
    """Softmax temperature (0: greedy); "greedy" and "beam" use 0."""
    max_tokens: int | None = None
    """Bound on generated tokens, EOS included (None: the voice's own)."""
    draft: int = 5
    """Draft length (method "speculative")."""
    length_penalty: float = 1.0
    """Beam scores are log probabilities divided by length ** length_penalty."""
    min_tokens: int = 0
    """EOS is masked for the first min_tokens tokens."""


def resolve_decoding(cfg: SynthesisConfig) -> Decoding:
    """`cfg`'s decoding fields, validated (ConfigError if bad)."""
    method = cfg.decoding
    if method not in DECODING_METHODS:
        raise ConfigError(f"decoding must be one of {', '.join(DECODING_METHODS)}, got {method!r}")
    for name, value, low, high in (("beams", cfg.beams, 1, 64), ("top_k", cfg.top_k, 0, 1 << 20),
                                   ("draft", cfg.draft, 1, 16), ("min_tokens", cfg.min_tokens, 0, 1 << 20)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    top_p = _number("top_p", cfg.top_p, positive=True, limit=1.0)
    temperature = _number("temperature", cfg.temperature, limit=100.0)
    max_tokens = cfg.max_tokens
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                   or max_tokens < 1):
        raise ConfigError(f"max_tokens must be a positive integer or None, got {max_tokens!r}")
    if method in ("greedy", "beam"):
        temperature = 0.0
    return Decoding(method=method, beams=cfg.beams if method == "beam" else 1, top_k=cfg.top_k, top_p=top_p,
                    temperature=temperature, max_tokens=max_tokens, draft=cfg.draft, min_tokens=cfg.min_tokens)


@dataclass(frozen=True)
class ResolvedConfig:
    """A `SynthesisConfig` with the voice's defaults filled in and every value checked."""

    knobs: tuple[float, ...]
    """Every knob of the voice's family, in its column order, with `speed` applied."""
    knob_names: tuple[str, ...]
    """Their names."""
    rates: tuple[str, ...]
    """Each knob's rate role ("duration", "pace" or ""), for per-sentence rate changes (SSML)."""
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
    decoding: Decoding | None = None
    """Token voices' decoding settings (validated); None for other families' defaults."""

    def knob(self, name: str) -> float:
        """The value of knob `name` (KeyError if the voice's family has none)."""
        return self.knobs[self.knob_names.index(name)] if name in self.knob_names else _missing(name)

    def knobs_at_rate(self, rate: float) -> tuple[float, ...]:
        """The knobs for a sentence spoken `rate` times as long (SSML prosody rate: 2.0 = half speed)."""
        if rate == 1.0:
            return self.knobs
        return tuple(v * rate if r == "duration" else v / rate if r == "pace" else v
                     for v, r in zip(self.knobs, self.rates))


def _missing(name: str) -> float:
    raise KeyError(name)


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
    knobs: Sequence[Knob],
    defaults: Mapping[str, float],
    num_speakers: int,
    speaker_id_map: Mapping[str, int],
) -> ResolvedConfig:
    """Fill `cfg`'s unset fields from a voice's defaults (`defaults` over each knob's own) and validate all
    of them (ConfigError if bad)."""
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
    given = cfg.knobs if cfg.knobs is not None else {}
    if not isinstance(given, Mapping):
        raise ConfigError(f"knobs must be a mapping of names to numbers, got {type(given).__name__}")
    names = [k.name for k in knobs]
    unknown = sorted(str(n) for n in given if n not in names)
    if unknown:
        raise ConfigError(f"unknown knob {', '.join(unknown)}: this voice's knobs are {', '.join(names) or 'none'}")
    speed = _number("speed", cfg.speed, positive=True, limit=20.0)
    values = []
    for k in knobs:
        value = given[k.name] if k.name in given else defaults.get(k.name, k.default)
        value = _knob_value(k, value)
        values.append(value / speed if k.rate == "duration" else value * speed if k.rate == "pace" else value)
    return ResolvedConfig(
        knobs=tuple(values),
        knob_names=tuple(names),
        rates=tuple(k.rate for k in knobs),
        speaker_id=speaker_id,
        seed=seed,
        sentence_silence=_number("sentence_silence", cfg.sentence_silence, limit=60.0),
        normalize_text=bool(cfg.normalize_text),
        volume=_number("volume", cfg.volume, limit=100.0),
        normalize_audio=_flag("normalize_audio", cfg.normalize_audio),
        decoding=resolve_decoding(cfg),
    )


def _knob_value(knob: Knob, value: object) -> float:
    """`value` checked against `knob`'s range."""
    name = knob.name
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be finite, got {value}")
    if value < knob.low or (knob.positive and value <= knob.low):
        raise ConfigError(f"{name} must be {'>' if knob.positive else '>='} {knob.low:g}, got {value:g}")
    if value > knob.high:
        raise ConfigError(f"{name} must be at most {knob.high:g}, got {value:g}")
    return value


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be True or False, got {value!r}")
    return value
