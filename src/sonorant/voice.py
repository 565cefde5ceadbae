"""`Voice`: text in, audio out — the public object behind `sonorant.load_voice()`."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from .arrays import MAX_SEED
from .audio import Audio, AudioChunk
from .config import ResolvedConfig, SynthesisConfig, resolve_config
from .engine import BucketConfig, Engine, StreamConfig, Utterance
from .errors import ConfigError, TextError
from .models.base import Knob
from .runtimes import Runtime
from .text.pipeline import SentencePlan, TextPipeline
from .voices.card import LoadedVoice, VoiceCard

if TYPE_CHECKING:
    from torch import nn

_LOG = logging.getLogger(__name__)


class Voice:
    """A loaded voice of any family: its card, its text front end, and the engine that runs its model."""

    def __init__(
        self,
        runtime: Runtime,
        loaded: LoadedVoice,
        *,
        buckets: BucketConfig | None = None,
        max_ids: int = 400,
    ) -> None:
        self.card: VoiceCard = loaded.card
        self.name = loaded.card.name
        self.path = loaded.path
        self.config = loaded.native
        """The loader's own description of the voice (a `PiperVoiceConfig` for Piper voices)."""
        if runtime.spec.tokens is not None:  # a token family: text -> tokens -> codec
            from .engine.token_engine import TokenEngine

            self.engine = TokenEngine(runtime, buckets)
        else:
            self.engine = Engine(runtime, buckets)
        self.max_ids = max_ids
        self._source = loaded.source
        self._build_pipeline = loaded.pipeline
        self._pipelines: dict[bool, TextPipeline] = {}

    def __repr__(self) -> str:
        return (f"Voice({self.name!r}, {self.family}, {self.language or '?'}, {self.sample_rate} Hz, "
                f"{self.runtime.name} on {self.device})")

    @property
    def runtime(self) -> Runtime:
        """What runs the model (eager, compile, onnx, xla or tensorrt)."""
        return self.engine.runtime

    @property
    def device(self) -> str:
        """Where the model runs: "cpu", "cuda:0", "xla:0", ..."""
        return self.engine.runtime.device

    @property
    def model(self) -> nn.Module:
        """The voice's PyTorch model (imports torch; with the onnx runtime it is built from the voice file
        on first use, which the runtime itself never needs once its graphs are cached)."""
        model = getattr(self.engine.runtime, "model", None)
        if model is None and self._source is not None:
            model = self._source.get()
        if model is None:
            raise AttributeError("this voice's runtime holds no PyTorch model")
        return model

    @property
    def family(self) -> str:
        """The model family ("vits", "fastpitch", ...)."""
        return self.engine.spec.family

    @property
    def knobs(self) -> tuple[Knob, ...]:
        """The family's per-utterance controls (`SynthesisConfig.knobs`), with this voice's defaults."""
        defaults = self.card.knob_defaults
        return tuple(replace(k, default=float(defaults.get(k.name, k.default))) for k in self.engine.spec.knobs)

    @property
    def sample_rate(self) -> int:
        """Output sample rate in Hz."""
        return self.card.sample_rate

    @property
    def language(self) -> str:
        """Language code, e.g. en_US."""
        return self.card.language

    @property
    def quality(self) -> str:
        """Quality label (Piper voices), else ""."""
        return self.card.quality

    @property
    def num_speakers(self) -> int:
        """Number of speakers."""
        return self.engine.spec.n_speakers

    @property
    def speakers(self) -> dict[str, int]:
        """Speaker names -> ids (empty for single-speaker voices)."""
        return dict(self.card.speakers)

    # --- text -------------------------------------------------------------------------------------

    def _pipeline(self, normalize: bool) -> TextPipeline:
        key = bool(normalize)
        if key not in self._pipelines:
            self._pipelines[key] = self._build_pipeline(key, self.max_ids)
        return self._pipelines[key]

    def plan(self, text: str, normalize: bool = True) -> list[SentencePlan]:
        """What will be spoken: per sentence (or piece of a long one) the normalized text, phonemes and ids.

        `text` may be plain text, with inline `[[ phonemes ]]`, or an SSML document (`<speak>...`).
        """
        _check_text(text)
        return self._pipeline(normalize).plan(text)

    def phonemes(self, text: str, normalize: bool = True) -> list[list[str]]:
        """Phonemes per sentence (single codepoints, merged vowel clusters where the voice has them)."""
        return [p.phonemes for p in self.plan(text, normalize)]

    def phoneme_ids(self, text: str, normalize: bool = True) -> list[list[int]]:
        """Model input ids per sentence (a Piper voice: ^ _ p1 _ p2 ... pn _ $; a NeMo voice: its tokenizer's)."""
        return [p.ids for p in self.plan(text, normalize)]

    def analyze(self, text: str, normalize: bool = True) -> str:
        """A readable trace of the front end: per sentence the normalized text, phonemes and ids."""
        _check_text(text)
        return self._pipeline(normalize).analyze(text)

    # --- audio ------------------------------------------------------------------------------------

    def resolve(self, cfg: SynthesisConfig | None) -> ResolvedConfig:
        """`cfg` with this voice's defaults filled in; raises ConfigError on bad values."""
        return resolve_config(cfg, knobs=self.engine.spec.knobs, defaults=self.card.knob_defaults,
                              num_speakers=self.num_speakers, speaker_id_map=self.card.speakers)

    @staticmethod
    def _base_seed(cfg: ResolvedConfig) -> int:
        """The first utterance's seed (sentence i uses base + i): the configured one or a random one."""
        return cfg.seed if cfg.seed is not None else secrets.randbits(31)

    @staticmethod
    def _utterance(ids: Sequence[int], seed: int, cfg: ResolvedConfig, scale: float = 1.0) -> Utterance:
        """`scale` is the sentence's duration multiplier (SSML prosody rate)."""
        return Utterance(tuple(ids), seed, cfg.knobs_at_rate(scale), cfg.speaker_id, cfg.decoding)

    def _utterances(self, sentences: Sequence[Sequence[int]], cfg: ResolvedConfig,
                    scales: Sequence[float] | None = None) -> list[Utterance]:
        base = self._base_seed(cfg)
        scales = scales or [1.0] * len(sentences)
        return [self._utterance(ids, (base + i) & MAX_SEED, cfg, scale)
                for i, (ids, scale) in enumerate(zip(sentences, scales))]

    def prepare(self, text: str, cfg: ResolvedConfig) -> tuple[list[SentencePlan], list[Utterance], list[float]]:
        """What the engine runs for `text`: its plans, their utterances, and the silence (seconds) after each.

        The server's scheduler uses this to batch sentences from many requests through one engine."""
        plans = self.plan(text, cfg.normalize_text)
        utts = self._utterances([p.ids for p in plans], cfg, [p.length_scale for p in plans])
        gaps = [
            p.pause_after + (cfg.sentence_silence if nxt is not None and nxt.sentence_index != p.sentence_index else 0.0)
            for p, nxt in zip(plans, [*plans[1:], None])
        ]
        return plans, utts, gaps

    def synthesize(self, text: str, cfg: SynthesisConfig | None = None) -> Audio:
        """Speak `text` (plain text, `[[ phonemes ]]` inline, or SSML) as one `Audio`."""
        resolved = self.resolve(cfg)
        _, utts, gaps = self.prepare(text, resolved)
        pieces = [_level(p, resolved) for p in self.engine.synthesize(utts)]
        return Audio(_join(pieces, gaps, self.sample_rate), self.sample_rate, utts[0].seed)

    def tokens(self, text: str, cfg: SynthesisConfig | None = None) -> list[np.ndarray]:
        """A token voice's generated tokens per sentence (EOS last), as `synthesize` would speak them with
        the same settings and seed: compare them token for token with another implementation."""
        if self.engine.spec.tokens is None:
            raise ConfigError(f"{self.name} is a {self.family} voice: only token voices generate tokens")
        resolved = self.resolve(cfg)
        _, utts, _ = self.prepare(text, resolved)
        return self.engine.tokens(utts)

    def synthesize_ids(self, sentences: Sequence[Sequence[int]], cfg: SynthesisConfig | ResolvedConfig | None = None) -> Audio:
        """Speak already-phonemized sentences (lists of ids) as one `Audio`."""
        resolved = cfg if isinstance(cfg, ResolvedConfig) else self.resolve(cfg)
        if not sentences or any(len(s) == 0 for s in sentences):
            raise TextError("every sentence needs at least one phoneme id")
        n_vocab = self.engine.spec.n_vocab
        for s in sentences:
            bad = [i for i in s if not 0 <= int(i) < n_vocab]
            if bad:
                raise TextError(f"phoneme ids out of range 0..{n_vocab - 1}: {bad[:5]}")
        utts = self._utterances(sentences, resolved)
        pieces = [_level(p, resolved) for p in self.engine.synthesize(utts)]
        gaps = [resolved.sentence_silence] * (len(pieces) - 1) + [0.0]
        return Audio(_join(pieces, gaps, self.sample_rate), self.sample_rate, utts[0].seed)

    def synthesize_batch(self, texts: Sequence[str], cfg: SynthesisConfig | None = None) -> list[Audio]:
        """Speak many independent texts, batching their sentences together; each result equals
        `synthesize(text, cfg)` for the same seed (a random seed is drawn per text when none is given)."""
        if isinstance(texts, str):
            raise TextError("synthesize_batch takes a list of texts; use synthesize for one text")
        resolved = self.resolve(cfg)
        prepared = [self.prepare(t, resolved) for t in texts]
        utts = [u for _, text_utts, _ in prepared for u in text_utts]
        pieces = iter(self.engine.synthesize(utts))
        out = []
        for _, text_utts, gaps in prepared:
            own = [_level(next(pieces), resolved) for _ in text_utts]
            out.append(Audio(_join(own, gaps, self.sample_rate), self.sample_rate, text_utts[0].seed))
        return out

    def stream(self, text: str, cfg: SynthesisConfig | None = None,
               stream_cfg: StreamConfig | None = None) -> Iterator[AudioChunk]:
        """Yield audio as soon as it is decoded: within each sentence the decoder runs over overlapping
        windows (small first, larger later), so the first chunk arrives long before the sentence is done,
        and sentences are phonemized one at a time as the stream reaches them. Sentences that start
        `stream_cfg.relax_after_s` or more into the stream get equal large windows (less work);
        `StreamConfig(whole_sentences=True)` yields one chunk per sentence (the least work).
        The concatenated chunks equal `synthesize(text, cfg)` for the same seed."""
        resolved = self.resolve(cfg)
        _check_text(text)
        plans = self._pipeline(resolved.normalize_text).iter_plans(text)
        base = self._base_seed(resolved)
        plan: SentencePlan | None = next(plans)
        index = 0
        schedule = stream_cfg or StreamConfig()
        done = 0  # samples yielded so far: later sentences need no small first windows
        while plan is not None:
            utt = self._utterance(plan.ids, (base + index) & MAX_SEED, resolved, plan.length_scale)
            following: SentencePlan | None = None
            if schedule.whole_sentences:
                pieces = iter([(self.engine.synthesize([utt])[0], True)])
            else:
                pieces = self.engine.stream(utt, schedule.for_offset(done / self.sample_rate))
            if resolved.normalize_audio:  # the peak of the whole sentence scales every piece of it
                pieces = iter([(_level(np.concatenate([p for p, _ in list(pieces)]), resolved), True)])
            for samples, end_of_plan in pieces:
                if not resolved.normalize_audio:
                    samples = _level(samples, resolved)
                if end_of_plan:
                    following = next(plans, None)
                    gap = plan.pause_after
                    if following is not None and following.sentence_index != plan.sentence_index:
                        gap += resolved.sentence_silence
                    if gap > 0:
                        samples = np.concatenate([samples, _silence(gap, self.sample_rate)])
                done += len(samples)
                yield AudioChunk(samples, self.sample_rate, plan.sentence_index, end_of_plan and following is None,
                                 text=plan.text, phoneme_ids=list(utt.ids))
            plan, index = following, index + 1


def _check_text(text: object) -> None:
    if not isinstance(text, str):
        raise TextError(f"text must be a string, got {type(text).__name__}")
    if not text.strip():
        raise TextError("text is empty: give at least one word to speak")


def _level(samples: np.ndarray, cfg: ResolvedConfig) -> np.ndarray:
    """`samples` peak-normalized (if `cfg.normalize_audio`) and scaled by `cfg.volume`."""
    gain = cfg.volume
    if cfg.normalize_audio:
        peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
        gain = gain / peak if peak > 1e-8 else 0.0
    return samples if gain == 1.0 else (samples * np.float32(gain)).astype(np.float32, copy=False)


def _silence(seconds: float, sample_rate: int) -> np.ndarray:
    return np.zeros(int(round(seconds * sample_rate)), dtype=np.float32)


def _join(pieces: Sequence[np.ndarray], gaps: Sequence[float], sample_rate: int) -> np.ndarray:
    """Pieces in order, each followed by its gap of silence (seconds)."""
    parts: list[np.ndarray] = []
    for piece, gap in zip(pieces, gaps):
        parts.append(piece)
        if gap > 0:
            parts.append(_silence(gap, sample_rate))
    return np.concatenate(parts).astype(np.float32, copy=False) if parts else np.zeros(0, np.float32)
