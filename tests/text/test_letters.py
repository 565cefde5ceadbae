"""Letters read by name (issue 13): every letter is spoken, and spoken as its name.

The expected phonemes of a letter are always espeak's own reading of that letter alone, never a
table written here. Stress marks and espeak's linking glide (ʲ) are ignored when comparing words.
"""

from __future__ import annotations

import functools
import re

import pytest

import sonorant
from sonorant.text import get_phonemizer, letters, normalize
from sonorant.text.pipeline import SentencePlan

_UNMARKED = str.maketrans("", "", "ˈˌʲ")


@functools.lru_cache(maxsize=None)
def letter_name(letter: str, voice: str = "en-us") -> str:
    """The letter's phonemes as espeak reads it on its own, without stress marks."""
    sentences = get_phonemizer().phonemize(letter, voice)
    return "".join("".join(s) for s in sentences).strip().translate(_UNMARKED)


def spoken_words(plans: list[SentencePlan]) -> list[str]:
    """The phoneme words of all plans, without stress marks, glides or punctuation."""
    text = " ".join("".join(p.phonemes) for p in plans).translate(_UNMARKED)
    return [w for w in re.split(r"[\s.,;:!?]+", text) if w]


def test_letter_names_come_from_espeak_alone() -> None:
    # the oracle itself: a lone letter is its name (not "uh" for A), and letters differ
    names = {c: letter_name(c) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
    assert len(set(names.values())) == 26
    assert letter_name("a") == names["A"] and names["A"] not in ("ɐ", "ə")


@pytest.mark.parametrize(("text", "letter", "count"), [
    ("W W W W W W", "W", 6),
    ("Serial K K K K K 9.", "K", 5),
    ("B B B", "B", 3),
    ("B B B B B B B B B B B B", "B", 12),
    ("I I I I", "I", 4),
    ("A A A A A", "A", 5),
    ("x x x x", "x", 4),
    ('<speak><say-as interpret-as="characters">BBBBB</say-as></speak>', "B", 5),
    ('<speak><say-as interpret-as="characters">aaaa</say-as></speak>', "a", 4),
])
def test_repeated_letters_are_all_spoken(joe: sonorant.Voice, text: str, letter: str, count: int) -> None:
    words = spoken_words(joe.plan(text))
    assert words.count(letter_name(letter)) == count, words


@pytest.mark.parametrize(("text", "initialisms"), [
    ("The FBI and the CIA", ["FBI", "CIA"]),
    ("The FBI and the CIA said so.", ["FBI", "CIA"]),
    ("She works at the USA office.", ["USA"]),
    ("Take the ATM to the NYPD.", ["ATM", "NYPD"]),
])
def test_initialisms_are_letter_names(joe: sonorant.Voice, text: str, initialisms: list[str]) -> None:
    words = spoken_words(joe.plan(text))
    for initialism in initialisms:  # one word: the letters' names run together, as espeak says an initialism
        assert "".join(letter_name(c) for c in initialism) in words, words
    assert "ɐ" not in words


def test_flight_numbers(joe: sonorant.Voice) -> None:
    for text in ("UA 857", "Flight UA857 is late."):
        (plan,) = joe.plan(text)
        assert "U A eight fifty-seven" in plan.normalized
        assert letter_name("U") + letter_name("A") in spoken_words([plan])
    assert normalize("UA 1205 and BA 800") == "U A twelve oh five and B A eight hundred"
    assert normalize("The UK 500 km race") == "The U K five hundred kilometers race"  # a unit: a quantity


@pytest.mark.parametrize(("text", "before"), [
    ("Plan A is better.", "plæn"),
    ("He got an A on the test.", "ɐn"),
    ("Type A blood is common.", "taɪp"),
    ("Choose A or B.", "tʃuːz"),
    ("Is it A?", "ɪɾ"),
    ("A, B and C are letters.", None),
    ("A and B are letters.", None),
])
def test_the_letter_a(joe: sonorant.Voice, text: str, before: str | None) -> None:
    words = spoken_words(joe.plan(text))
    index = words.index(before) + 1 if before is not None else 0
    assert words[index] == letter_name("A"), words


@pytest.mark.parametrize("text", ["A cat sat on the mat.", "I read A Tale of Two Cities.", "It is a B."])
def test_the_article_a_stays_an_article(joe: sonorant.Voice, text: str) -> None:
    words = spoken_words(joe.plan(text))
    articles = [w for w in words if w == letter_name("A")]
    assert not articles, words


@pytest.mark.parametrize("text", ["Is it a B?", "The x y plane is flat.", "He said B to me."])
def test_single_letters_in_context_read_as_espeak_reads_the_text(joe: sonorant.Voice, text: str) -> None:
    # letters espeak already reads well: the words around them keep their reading in context
    (plan,) = joe.plan(text)
    expected = get_phonemizer().phonemize(normalize(text), joe.config.espeak_voice)
    assert plan.phonemes == [p for sentence in expected for p in sentence]


def test_punctuation_after_letters_is_kept(joe: sonorant.Voice) -> None:
    ssml = '<speak>Next, <say-as interpret-as="characters">ab</say-as>, and <say-as interpret-as="characters">c</say-as>?</speak>'
    (plan,) = joe.plan(ssml)
    phonemes = "".join(plan.phonemes)
    assert plan.normalized == "Next, A B, and C?"
    assert phonemes.endswith("?") and phonemes.count(",") == 2 and "  " not in phonemes
    (plan,) = joe.plan("We met the FBI, the CIA; and the NSA.")
    phonemes = "".join(plan.phonemes)
    assert phonemes.count(",") == 1 and phonemes.count(";") == 1 and phonemes.endswith(".") and "  " not in phonemes


def test_normalized_text_shows_plain_letters(joe: sonorant.Voice) -> None:
    plans = joe.plan("The FBI and the CIA. Serial K K K K.")
    assert [p.normalized for p in plans] == ["The F B I and the C I A.", "Serial K K K K."]
    assert not any(letters.has_marks(p.normalized) for p in plans)
    assert "F B I" in joe.analyze("The FBI.")


def test_letter_marks_in_the_input_are_spaces(joe: sonorant.Voice) -> None:
    text = f"one{letters.OPEN}two{letters.CLOSE}three"
    (plan,) = joe.plan(text)
    assert plan.normalized == "one two three"
    assert normalize(text) == "one two three"


def test_say_as_characters_of_other_letters(joe: sonorant.Voice) -> None:
    (plan,) = joe.plan('<speak><say-as interpret-as="characters">éñ</say-as></speak>')
    assert spoken_words([plan]) == [letter_name("É"), letter_name("Ñ")]


def test_voice_without_normalization_still_speaks(joe: sonorant.Voice) -> None:
    (plan,) = joe.plan("The FBI.", normalize=False)
    assert plan.normalized == "The FBI."
