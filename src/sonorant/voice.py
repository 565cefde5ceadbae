"""`Voice`: text in, audio out — the public object behind `sonorant.load_voice()`."""

from __future__ import annotations

import logging
import secrets
import unicodedata
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from .audio import Audio, AudioChunk
from .config import ResolvedConfig, SynthesisConfig, resolve_config
from .engine import BucketConfig, Engine, StreamConfig, Utterance
from .errors import TextError
from .models.vits import Vits
from .runtimes import Runtime
from .text import get_phonemizer, phonemes_to_ids
from .voices.piper import PiperVoiceConfig

_LOG = logging.getLogger(__name__)


class Voice:
    """A loaded voice: its model, its phoneme inventory and defaults, and the engine that runs it."""

    def __init__(
        self,
        model: Vits,
        config: PiperVoiceConfig,
        name: str,
        path: Path | None = None,
        runtime: Runtime | None = None,
        buckets: BucketConfig | None = None,
    ) -> None:
        self.model = model
        self.config = config
        self.name = name
        self.path = path
        self.engine = Engine(model, runtime, buckets)

    def __repr__(self) -> str:
        return f"Voice({self.name!r}, {self.language or '?'}, {self.quality or '?'}, {self.sample_rate} Hz)"

    @property
    def sample_rate(self) -> int:
        """Output sample rate in Hz."""
        return self.config.sample_rate

    @property
    def language(self) -> str:
        """Language code, e.g. en_US."""
        return self.config.language

    @property
    def quality(self) -> str:
        """Piper quality label."""
        return self.config.quality

    @property
    def num_speakers(self) -> int:
        """Number of speakers."""
        return self.model.cfg.n_speakers

    @property
    def speakers(self) -> dict[str, int]:
        """Speaker names -> ids (empty for single-speaker voices)."""
        return dict(self.config.speaker_id_map)

    # --- text -------------------------------------------------------------------------------------

    def phonemes(self, text: str) -> list[list[str]]:
        """Phonemes per sentence (single codepoints, merged vowel clusters where the voice has them)."""
        _check_text(text)
        if self.config.phoneme_type == "text":
            sentences = [list(unicodedata.normalize("NFD", text))]
        else:
            sentences = get_phonemizer().phonemize(
                text, self.config.espeak_voice, vowel_clusters=set(self.config.vowel_clusters) or None
            )
        sentences = [s for s in sentences if s]
        if not sentences:
            raise TextError(f"nothing to speak in {text[:60]!r}")
        return sentences

    def phoneme_ids(self, text: str) -> list[list[int]]:
        """Model ids per sentence: ^ _ p1 _ p2 ... pn _ $."""
        return [phonemes_to_ids(p, self.config.phoneme_id_map) for p in self.phonemes(text)]

    # --- audio ------------------------------------------------------------------------------------

    def resolve(self, cfg: SynthesisConfig | None) -> ResolvedConfig:
        """`cfg` with this voice's defaults filled in; raises ConfigError on bad values."""
        c = self.config
        return resolve_config(cfg, length_scale=c.length_scale, noise_scale=c.noise_scale, noise_w=c.noise_w,
                              num_speakers=self.num_speakers, speaker_id_map=c.speaker_id_map)

    def _utterances(self, sentences: Sequence[Sequence[int]], cfg: ResolvedConfig) -> list[Utterance]:
        base = cfg.seed if cfg.seed is not None else secrets.randbits(31)
        return [
            Utterance(tuple(ids), base + i, cfg.length_scale, cfg.noise_scale, cfg.noise_w, cfg.speaker_id)
            for i, ids in enumerate(sentences)
        ]

    def synthesize(self, text: str, cfg: SynthesisConfig | None = None) -> Audio:
        """Speak `text` (all sentences, in order) as one `Audio`."""
        resolved = self.resolve(cfg)
        return self.synthesize_ids(self.phoneme_ids(text), resolved)

    def synthesize_ids(self, sentences: Sequence[Sequence[int]], cfg: SynthesisConfig | ResolvedConfig | None = None) -> Audio:
        """Speak already-phonemized sentences (lists of ids) as one `Audio`."""
        resolved = cfg if isinstance(cfg, ResolvedConfig) else self.resolve(cfg)
        if not sentences or any(len(s) == 0 for s in sentences):
            raise TextError("every sentence needs at least one phoneme id")
        n_vocab = self.model.cfg.n_vocab
        for s in sentences:
            bad = [i for i in s if not 0 <= int(i) < n_vocab]
            if bad:
                raise TextError(f"phoneme ids out of range 0..{n_vocab - 1}: {bad[:5]}")
        utts = self._utterances(sentences, resolved)
        pieces = self.engine.synthesize(utts)
        return Audio(_join(pieces, resolved.sentence_silence, self.sample_rate), self.sample_rate, utts[0].seed)

    def synthesize_batch(self, texts: Sequence[str], cfg: SynthesisConfig | None = None) -> list[Audio]:
        """Speak many independent texts, batching their sentences together; each result equals
        `synthesize(text, cfg)` for the same seed (a random seed is drawn per text when none is given)."""
        if isinstance(texts, str):
            raise TextError("synthesize_batch takes a list of texts; use synthesize for one text")
        resolved = self.resolve(cfg)
        plans = [self.phoneme_ids(t) for t in texts]
        utts: list[Utterance] = []
        spans: list[tuple[int, int]] = []
        for sentences in plans:
            spans.append((len(utts), len(utts) + len(sentences)))
            utts.extend(self._utterances(sentences, resolved))
        pieces = self.engine.synthesize(utts)
        return [Audio(_join(pieces[a:b], resolved.sentence_silence, self.sample_rate), self.sample_rate, utts[a].seed)
                for a, b in spans]

    def stream(self, text: str, cfg: SynthesisConfig | None = None,
               stream_cfg: StreamConfig | None = None) -> Iterator[AudioChunk]:
        """Yield audio as soon as it is decoded: within each sentence the decoder runs over overlapping
        windows (small first, larger later), so the first chunk arrives long before the sentence is done.
        The concatenated chunks equal `synthesize(text, cfg)` for the same seed."""
        resolved = self.resolve(cfg)
        sentences = self.phoneme_ids(text)
        utts = self._utterances(sentences, resolved)
        gap = np.zeros(int(round(resolved.sentence_silence * self.sample_rate)), dtype=np.float32)
        for i, utt in enumerate(utts):
            last_sentence = i == len(utts) - 1
            pieces = self.engine.stream(utt, stream_cfg)
            current = next(pieces, None)
            while current is not None:
                following = next(pieces, None)
                end_of_sentence = following is None
                if end_of_sentence and not last_sentence and len(gap):
                    current = np.concatenate([current, gap])
                yield AudioChunk(current, self.sample_rate, i, end_of_sentence and last_sentence,
                                 phoneme_ids=list(utt.ids))
                current = following


def _check_text(text: object) -> None:
    if not isinstance(text, str):
        raise TextError(f"text must be a string, got {type(text).__name__}")
    if not text.strip():
        raise TextError("text is empty: give at least one word to speak")


def _join(pieces: Sequence[np.ndarray], silence: float, sample_rate: int) -> np.ndarray:
    gap = np.zeros(int(round(silence * sample_rate)), dtype=np.float32)
    parts: list[np.ndarray] = []
    for i, p in enumerate(pieces):
        if i and len(gap):
            parts.append(gap)
        parts.append(p)
    return np.concatenate(parts).astype(np.float32, copy=False) if parts else np.zeros(0, np.float32)
