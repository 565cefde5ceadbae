"""Sentence splitting of plain text and splitting of over-long phoneme sequences."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sonorant.text.split import CLAUSE_PHONEMES, max_phonemes, sentence_spans, split_long, split_sentences

CASES: list[tuple[str, list[str]]] = [
    ("Hello world.", ["Hello world."]),
    ("Hello world. How are you?", ["Hello world.", "How are you?"]),
    ("Dr. Smith is here. He is late.", ["Dr. Smith is here.", "He is late."]),
    ("Mr. and Mrs. Jones left.", ["Mr. and Mrs. Jones left."]),
    ("She lives on St. James St. in London.", ["She lives on St. James St. in London."]),
    ("He lives on Main St. The house is red.", ["He lives on Main St.", "The house is red."]),
    ("Fruits, e.g. apples, are good.", ["Fruits, e.g. apples, are good."]),
    ("Use a tool, i.e. A hammer.", ["Use a tool, i.e. A hammer."]),
    ("It was Kramer vs. Kramer. Great film.", ["It was Kramer vs. Kramer.", "Great film."]),
    ("He works in the U.S. and Canada.", ["He works in the U.S. and Canada."]),
    ("I moved to the U.S. It was great.", ["I moved to the U.S.", "It was great."]),
    ("The U.S. Army is large.", ["The U.S. Army is large."]),
    ("Pi is 3.14 roughly. E is 2.72.", ["Pi is 3.14 roughly.", "E is 2.72."]),
    ("J. R. R. Tolkien wrote books.", ["J. R. R. Tolkien wrote books."]),
    ("The author is J. K. Rowling. She is British.", ["The author is J. K. Rowling.", "She is British."]),
    ('"Stop!" she said. Then she left.', ['"Stop!" she said.', "Then she left."]),
    ('He asked, "Why?" Nobody knew.', ['He asked, "Why?"', "Nobody knew."]),
    ('He left. "Why?" she asked.', ["He left.", '"Why?" she asked.']),
    ("Wait... what happened?", ["Wait... what happened?"]),
    ("I don't know... Maybe tomorrow.", ["I don't know...", "Maybe tomorrow."]),
    ("Wait… what? Really!", ["Wait… what?", "Really!"]),
    ("Really?! Yes!!", ["Really?!", "Yes!!"]),
    ("I bought apples, pears, etc. The store was busy.", ["I bought apples, pears, etc.", "The store was busy."]),
    ("See No. 5 for details.", ["See No. 5 for details."]),
    ("It happened in Jan. 2020 at 7 a.m. Eastern time.", ["It happened in Jan. 2020 at 7 a.m. Eastern time."]),
    ("I woke at 7 a.m. Then I left.", ["I woke at 7 a.m.", "Then I left."]),
    ("(See above.) Then continue.", ["(See above.)", "Then continue."]),
    ("Visit example.com today. Bye.", ["Visit example.com today.", "Bye."]),
    ("It cost $5. Then it cost more.", ["It cost $5.", "Then it cost more."]),
    ("There were 2020. 5 people came.", ["There were 2020.", "5 people came."]),
    ("A title\n\nThe body starts here.", ["A title", "The body starts here."]),
    ("Hard wrapped line\ncontinues here.", ["Hard wrapped line\ncontinues here."]),
    ("Say [[ h ə . l oʊ ]] now. Done.", ["Say [[ h ə . l oʊ ]] now.", "Done."]),
    ("你好。我很好！", ["你好。", "我很好！"]),
    ("Prof. Xavier teaches. Students listen.", ["Prof. Xavier teaches.", "Students listen."]),
    ("Acme Inc. Makes anvils.", ["Acme Inc.", "Makes anvils."]),
    ("no terminal punctuation here", ["no terminal punctuation here"]),
    ("  Leading and trailing spaces.   ", ["Leading and trailing spaces."]),
    ("", []),
    ("   \n\t ", []),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_enough_tricky_cases() -> None:
    assert len(CASES) >= 25


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


_TEXT = st.lists(
    st.sampled_from(
        list("aAbBzZ .!?…\"'()[]\n,;:3.14eg。") + ["Dr.", "U.S.", "e.g.", "[[ a. b ]]", "...", " J. ", "The"]
    ),
    max_size=60,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_sentences_keep_every_character(text: str) -> None:
    sentences = split_sentences(text)
    assert _squash("".join(sentences)) == _squash(text)
    assert all(s and s == s.strip() for s in sentences)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_spans_tile_the_text(text: str) -> None:
    spans = sentence_spans(text)
    assert "".join(text[a:b] for a, b in spans) == text
    assert all(a < b for a, b in spans)
    assert all(spans[i][1] == spans[i + 1][0] for i in range(len(spans) - 1))


# --- split_long -----------------------------------------------------------------------------------


def _ids(piece: list[str]) -> int:
    return 2 * len(piece) + 3


def test_short_sentence_is_one_piece() -> None:
    phonemes = list("həlˈoʊ wˈɜːld.")
    assert split_long(phonemes, 400) == [phonemes]
    assert split_long([], 400) == []


def test_limit_matches_phonemes_to_ids() -> None:
    from sonorant.text.ids import phonemes_to_ids

    id_map = {"^": [1], "_": [0], "$": [2], "a": [5], " ": [3]}
    for n in range(1, 12):
        assert len(phonemes_to_ids(["a"] * n, id_map)) == 2 * n + 3
    assert max_phonemes(23) == 10 and max_phonemes(24) == 10


def test_prefers_clause_boundaries() -> None:
    phonemes = list("aaaa bbbb, cccc dddd eeee")
    pieces = split_long(phonemes, 2 * 18 + 3)
    assert ["".join(p) for p in pieces] == ["aaaa bbbb, ", "cccc dddd eeee"]


def test_falls_back_to_word_boundaries() -> None:
    phonemes = list("aaaa bbbb cccc dddd")
    pieces = split_long(phonemes, 2 * 12 + 3)
    assert ["".join(p) for p in pieces] == ["aaaa bbbb ", "cccc dddd"]


def test_cuts_inside_a_word_only_when_it_is_too_long() -> None:
    phonemes = list("ab " + "x" * 25 + " cd")
    pieces = split_long(phonemes, 2 * 10 + 3)
    assert "".join("".join(p) for p in pieces) == "".join(phonemes)
    assert all(len(p) <= 10 for p in pieces)
    assert "".join(pieces[0]) == "ab "


def test_tiny_limit_rejected() -> None:
    with pytest.raises(ValueError, match="max_len"):
        split_long(["a"], 4)
    assert split_long(["a", "b"], 5) == [["a"], ["b"]]


_PHONEMES = st.lists(st.sampled_from(["a", "b", "ˈ", "ː", "tʃ", " ", " ", ",", ";", ".", "?"]), max_size=300)


@settings(max_examples=400, deadline=None)
@given(_PHONEMES, st.integers(min_value=5, max_value=120))
def test_split_long_invariants(phonemes: list[str], max_len: int) -> None:
    pieces = split_long(phonemes, max_len)
    assert [p for piece in pieces for p in piece] == phonemes
    assert all(piece and _ids(piece) <= max_len for piece in pieces)
    if _ids(phonemes) <= max_len:
        assert pieces == ([phonemes] if phonemes else [])
    limit = max_phonemes(max_len)
    position = 0
    for piece in pieces[:-1]:
        position += len(piece)
        before, after = phonemes[position - 1], phonemes[position]
        if before == " " or after == " " or before in CLAUSE_PHONEMES:
            continue
        # a cut inside a word: the word is longer than a piece may be
        start, end = position, position
        while start > 0 and phonemes[start - 1] != " ":
            start -= 1
        while end < len(phonemes) and phonemes[end] != " ":
            end += 1
        assert end - start > limit
