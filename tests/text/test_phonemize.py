"""espeak-ng phonemizer behaviour that needs no piper-tts: clauses, sentences, errors, threads."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sonorant.errors import PhonemizerError, TextError
from sonorant.text import Clause, EspeakPhonemizer, get_phonemizer
from sonorant.text.espeak import Espeak
from sonorant.text.readclause import CLAUSE_NONE, CLAUSE_PARAGRAPH, describe_clause_type

VOICE = "en-us"


@pytest.fixture(scope="module")
def phonemizer() -> EspeakPhonemizer:
    return get_phonemizer()


def _ends(phonemizer: EspeakPhonemizer, text: str) -> list[tuple[str, bool]]:
    return [(c.terminator, c.end_of_sentence) for c in phonemizer.clauses(text, VOICE)]


def test_get_phonemizer_is_shared() -> None:
    assert get_phonemizer() is get_phonemizer()


def test_clause_terminators(phonemizer: EspeakPhonemizer) -> None:
    clauses = phonemizer.clauses("Hello, world! How are you? Fine: thanks; bye.", VOICE)
    assert all(isinstance(c, Clause) for c in clauses)
    assert [(c.terminator, c.end_of_sentence) for c in clauses] == [
        (",", False), ("!", True), ("?", True), (":", False), (";", False), (".", True)
    ]
    assert clauses[0].phonemes == "həlˈoʊ"


@pytest.mark.parametrize(
    ("text", "ends"),
    [
        ("One\n\nTwo", [("", True), ("", True)]),  # paragraph
        ("Wait... what", [("", False), ("", True)]),  # ellipsis
        ("Wait… what", [("", False), ("", True)]),
        ("Really?!  Yes.", [("?", True), (".", True)]),  # a run is typed by its first mark
        ("Hi?\n\nBye", [("", True), ("", True)]),  # '?' before a blank line
        ("Dr. Smith is in.", [(".", True), (".", True)]),
        ("It is e.g. fine", [("", True)]),  # a dot before a lower-case word
        ("Done。Next", [("", True), ("", True)]),  # CJK full stop: optional space after
        ("A — B", [(";", False), ("", True)]),  # em dash acts as a semicolon
        ("¿Qué? ¡Sí!", [("?", True), ("!", True)]),
        ("no punctuation", [("", True)]),
    ],
)
def test_clause_ends(phonemizer: EspeakPhonemizer, text: str, ends: list[tuple[str, bool]]) -> None:
    assert _ends(phonemizer, text) == ends


def test_over_long_clause_is_cut(phonemizer: EspeakPhonemizer) -> None:
    ends = _ends(phonemizer, " ".join(["word"] * 400) + ".")
    assert len(ends) >= 3
    assert ends[:-1] == [("", False)] * (len(ends) - 1)  # CLAUSE_NONE: cut, not a sentence end
    assert ends[-1] == (".", True)


def test_describe_clause_type_masks_like_piper() -> None:
    assert describe_clause_type(CLAUSE_NONE) == ("", False)
    assert describe_clause_type(CLAUSE_PARAGRAPH) == ("", True)
    assert describe_clause_type(0x00480028) == (".", True)  # PERIOD with DOT_AFTER_LAST_WORD


def test_sentences_and_terminators(phonemizer: EspeakPhonemizer) -> None:
    sentences = phonemizer.phonemize("Hi, there. Bye!", VOICE)
    assert len(sentences) == 2
    assert "".join(sentences[0]).endswith("ˈɛɹ.") and ", " in "".join(sentences[0])
    assert sentences[1][-1] == "!"
    assert all(len(p) == 1 for s in sentences for p in s)


def test_nfd_splits_accents(phonemizer: EspeakPhonemizer) -> None:
    sentences = phonemizer.phonemize("naïve café", VOICE)
    assert all(len(p) == 1 for s in sentences for p in s)


def test_raw_phoneme_block(phonemizer: EspeakPhonemizer) -> None:
    assert phonemizer.phonemize("Say [[ hɛloʊ ]] now.", VOICE) == [list("sˈeɪ hɛloʊ nˈaʊ.")]


def test_vowel_clusters(phonemizer: EspeakPhonemizer) -> None:
    assert phonemizer.phonemize("I am here", VOICE, vowel_clusters=[("a", "ɪ")])[0][0] == "aɪ"


def test_language_flags_are_removed(phonemizer: EspeakPhonemizer) -> None:
    assert "(en)" in phonemizer.clauses("Hello world", "ru")[0].phonemes
    assert "(" not in "".join(phonemizer.phonemize("Hello world", "ru")[0])


def test_linking_glide(phonemizer: EspeakPhonemizer) -> None:
    assert phonemizer.clauses("He is here.", VOICE)[0].phonemes == "hiːʲ ɪz hˈɪɹ"
    plain = EspeakPhonemizer(Espeak(write_glides=False))
    assert plain.clauses("He is here.", VOICE)[0].phonemes == "hiː ɪz hˈɪɹ"


def test_empty_and_blank_text(phonemizer: EspeakPhonemizer) -> None:
    assert phonemizer.phonemize("", VOICE) == []
    assert phonemizer.phonemize(" \n\t ", VOICE) == []


def test_no_history_between_texts(phonemizer: EspeakPhonemizer) -> None:
    fresh = phonemizer.phonemize("a", VOICE)
    phonemizer.phonemize("Wait..", VOICE)  # espeak holds the second dot back at the end of this
    assert phonemizer.phonemize("a", VOICE) == fresh


def test_unsafe_control_characters_become_spaces(phonemizer: EspeakPhonemizer) -> None:
    assert phonemizer.phonemize("Hello\x00world\x01B1 ok.", VOICE) == phonemizer.phonemize(
        "Hello world B1 ok.", VOICE
    )
    assert phonemizer.phonemize("Hi, you.", VOICE)[0][-1] == "."  # no punctuation names spoken


def test_text_errors(phonemizer: EspeakPhonemizer) -> None:
    with pytest.raises(TextError):
        phonemizer.phonemize(b"bytes", VOICE)  # type: ignore[arg-type]
    with pytest.raises(TextError):
        phonemizer.phonemize("lone \ud800 surrogate", VOICE)


def test_unknown_voice(phonemizer: EspeakPhonemizer) -> None:
    with pytest.raises(PhonemizerError, match="no-such-voice"):
        phonemizer.phonemize("Hello", "no-such-voice")
    assert phonemizer.phonemize("Hello.", VOICE)  # still usable afterwards


def test_bad_data_path(tmp_path: Path) -> None:
    with pytest.raises(PhonemizerError, match="data"):
        Espeak(data_path=str(tmp_path))


def test_threads_get_the_same_answers(phonemizer: EspeakPhonemizer) -> None:
    texts = [f"Sentence {i}, with words: the end? Yes! He is {i}..." for i in range(24)]
    expected = [phonemizer.phonemize(t, VOICE) for t in texts]
    results: dict[int, list[list[str]]] = {}

    def work(index: int) -> None:
        for step in range(len(texts)):
            j = (index + step) % len(texts)
            results[index * 100 + j] = phonemizer.phonemize(texts[j], "de" if step % 5 == 0 else VOICE)
            results[index * 100 + j] = phonemizer.phonemize(texts[j], VOICE)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(results[key] == expected[key % 100] for key in results)


def test_runtime_never_imports_piper() -> None:
    code = (
        "import sys, sonorant.text as t; t.get_phonemizer().phonemize('Hi.', 'en-us');"
        "assert not any(m == 'piper' or m.startswith('piper.') for m in sys.modules), 'piper imported'"
    )
    src = Path(__file__).resolve().parents[2] / "src"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(src)}, timeout=120)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_gives_sentences_of_codepoints(text: str) -> None:
    try:
        sentences = get_phonemizer().phonemize(text, VOICE)
    except (PhonemizerError, TextError):
        return
    assert isinstance(sentences, list)
    for sentence in sentences:
        assert isinstance(sentence, list)
        assert all(isinstance(p, str) and len(p) == 1 for p in sentence)
