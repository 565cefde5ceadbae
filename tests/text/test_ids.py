"""Phoneme ids: the Piper layout ``^ _ p1 _ p2 … pn _ $`` and what happens to unknown phonemes."""

from __future__ import annotations

import logging

import pytest

from sonorant.text import BOS, EOS, PAD, phonemes_to_ids

ID_MAP = {PAD: [0], BOS: [1], EOS: [2], " ": [3], "a": [14], "b": [15], "ˈ": [120]}


def test_symbols() -> None:
    assert (PAD, BOS, EOS) == ("_", "^", "$")


def test_layout_has_a_pad_right_after_bos() -> None:
    assert phonemes_to_ids(["a", " ", "b"], ID_MAP) == [1, 0, 14, 0, 3, 0, 15, 0, 2]


def test_empty_sentence() -> None:
    assert phonemes_to_ids([], ID_MAP) == [1, 0, 2]


def test_list_valued_ids_are_spliced_in_order() -> None:
    id_map = {PAD: [0], BOS: [1, 9], EOS: [2, 8], "a": [5, 6, 7], "b": []}
    assert phonemes_to_ids(["a", "b", "a"], id_map) == [1, 9, 0, 5, 6, 7, 0, 0, 5, 6, 7, 0, 2, 8]


def test_unknown_phonemes_are_skipped_with_one_warning_each(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sonorant.text.ids"):
        ids = phonemes_to_ids(["a", "ʘ", "b", "ʘ", "ǃ", "ʘ"], ID_MAP)
    assert ids == [1, 0, 14, 0, 15, 0, 2]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert any("ʘ" in w for w in warnings) and any("ǃ" in w for w in warnings)


def test_warnings_repeat_on_the_next_call(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sonorant.text.ids"):
        phonemes_to_ids(["ʘ"], ID_MAP)
        phonemes_to_ids(["ʘ"], ID_MAP)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2


def test_accepts_any_iterable_of_phonemes() -> None:
    assert phonemes_to_ids(iter("ab"), ID_MAP) == [1, 0, 14, 0, 15, 0, 2]
