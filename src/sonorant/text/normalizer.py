"""Text normalization: written text to its spoken form before phonemization.

``normalize("Dr. Smith paid $3.50 at 3:45 pm on Jan. 3, 2021.")`` ->
``"Doctor Smith paid three dollars and fifty cents at three forty-five PM on January third,
twenty twenty-one."``

The rules of each language live in one module of :mod:`sonorant.text.lang` (English:
:mod:`sonorant.text.lang.en`). The output is plain text for espeak-ng: sentence punctuation is
kept, no word of the input is dropped, ``[[ phonemes ]]`` blocks pass through unchanged, and any
Unicode string is accepted; only a non-string (or an unknown language) raises
:class:`~sonorant.errors.TextError`. Letters to be read by name come out spaced ("F B I");
:func:`normalize_marked` also marks them as letter groups (:mod:`sonorant.text.letters`), which is
what the text pipeline speaks.
"""

from __future__ import annotations

import logging

from sonorant.errors import TextError
from sonorant.text import letters
from sonorant.text.lang import get_normalizer, supported_languages

__all__ = ["normalize", "normalize_marked", "supported_languages"]


def normalize_marked(text: str, lang: str = "en") -> str:
    """:func:`normalize` with the letters to be read by name marked as letter groups."""
    if not isinstance(text, str):
        raise TextError(f"text must be a string, got {type(text).__name__}")
    return get_normalizer(lang)(letters.strip_marks(text))


def normalize(text: str, lang: str = "en") -> str:
    """``text`` as a careful reader of ``lang`` would say it (numbers, dates, abbreviations…)."""
    return letters.plain(normalize_marked(text, lang))


def has_normalizer(lang: str) -> bool:
    """Whether sonorant can normalize text in `lang` (otherwise text is read as written; logged once)."""
    from sonorant.text.lang import resolve

    try:
        resolve(lang)
    except TextError:
        logging.getLogger(__name__).info("no text normalization for language %r: text is read as written", lang)
        return False
    return True


def identity(text: str) -> str:
    """The normalizer that leaves text as written."""
    return text
