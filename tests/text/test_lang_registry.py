"""The language registry behind ``normalize(text, lang)``: aliases, unknown languages, bad input."""

from __future__ import annotations

import pytest

from sonorant.errors import TextError
from sonorant.text import normalize
from sonorant.text.lang import en as english
from sonorant.text.lang import get_normalizer, resolve, supported_languages


@pytest.mark.parametrize("alias", ["en", "EN", "en-us", "en_US", "en-US", "en-gb", "en_GB", "en-gb-x-rp", " en "])
def test_english_aliases(alias: str) -> None:
    assert resolve(alias) == "en"
    assert get_normalizer(alias) is english.normalize
    assert normalize("I have 2 cats.", lang=alias) == "I have two cats."


def test_default_language_is_english() -> None:
    assert normalize("5 kg") == "five kilograms"


def test_supported_languages() -> None:
    assert supported_languages() == ["en"]


@pytest.mark.parametrize("lang", ["xx", "de", "fr-fr", "", "english", "e"])
def test_unknown_language_lists_the_supported_ones(lang: str) -> None:
    with pytest.raises(TextError) as error:
        normalize("hello", lang=lang)
    assert repr(lang) in str(error.value)
    assert "en" in str(error.value).split("supported:")[1]


@pytest.mark.parametrize("lang", [None, 5, b"en"])
def test_language_must_be_a_string(lang: object) -> None:
    with pytest.raises(TextError):
        normalize("hello", lang=lang)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [None, 5, 3.5, b"bytes", ["a list"]])
def test_text_must_be_a_string(text: object) -> None:
    with pytest.raises(TextError):
        normalize(text)  # type: ignore[arg-type]


def test_text_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        normalize(42)  # type: ignore[arg-type]


def test_empty_text_is_fine() -> None:
    assert normalize("") == ""
    assert normalize("   ") == ""


def test_normalize_is_a_function_exported_by_the_text_package() -> None:
    import sonorant.text

    assert callable(sonorant.text.normalize)
    assert "normalize" in sonorant.text.__all__
    assert sonorant.text.normalize("It is 3.", lang="en") == "It is three."
    assert sonorant.text.normalize("5 kg") == "five kilograms"
