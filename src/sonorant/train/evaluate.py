"""The evaluation hook: synthesize the eval sentences with the current weights, transcribe them with the Whisper
judge (`sonorant.bench.asr.WhisperJudge`), and score the word error rate."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import ConfigError
from .models import Synthesize


class Judge(Protocol):
    """What scoring needs of an ASR judge (WhisperJudge has it)."""

    def transcribe(self, samples: np.ndarray, sample_rate: int) -> str:
        """The words heard."""
        ...

    def wer(self, references: Sequence[str], hypotheses: Sequence[str]) -> float:
        """Corpus word error rate after normalization."""
        ...


@dataclass(frozen=True)
class EvalResult:
    """One evaluation."""

    wer: float
    """Corpus WER of the transcripts against the sentences (0 = perfect; can exceed 1)."""
    hypotheses: list[str]
    """What the judge heard, one per sentence."""
    audio_seconds: float
    """Total duration of the synthesized audio."""
    seconds: float
    """Wall time of synthesis and transcription."""


def make_judge(name: str) -> Judge:
    """The Whisper judge named by eval.judge ("tiny.en" or "base")."""
    from ..bench.asr import WhisperJudge

    if name == "tiny.en":
        return WhisperJudge()
    if name == "base":
        return WhisperJudge.base()
    raise ConfigError(f"eval.judge: unknown judge {name!r}; use tiny.en or base")


def evaluate(synthesize: Synthesize, sentences: Sequence[str], judge: Judge,
             audio_dir: Path | None = None) -> EvalResult:
    """Synthesize `sentences`, transcribe them and score the WER; the audio is written to `audio_dir` as WAVs."""
    start = time.perf_counter()
    audio, rate = synthesize(list(sentences))
    if len(audio) != len(sentences):
        raise ConfigError(f"the synthesizer returned {len(audio)} waveforms for {len(sentences)} sentences")
    waves = [np.asarray(a, dtype=np.float32).reshape(-1) for a in audio]
    if audio_dir is not None:
        from ..audio import encode_audio

        audio_dir.mkdir(parents=True, exist_ok=True)
        for i, wave in enumerate(waves):
            (audio_dir / f"{i:03d}.wav").write_bytes(encode_audio(wave, rate, "wav"))
    hypotheses = [judge.transcribe(w, rate) if w.size else "" for w in waves]
    wer = judge.wer(list(sentences), hypotheses)
    return EvalResult(float(wer), hypotheses, sum(w.size for w in waves) / rate, time.perf_counter() - start)
