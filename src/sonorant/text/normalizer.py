"""Text normalization: written text to its spoken form before phonemization.

``normalize("Dr. Smith paid $3.50 at 3:45 pm on Jan. 3, 2021.")`` ->
``"Doctor Smith paid three dollars and fifty cents at three forty-five PM on January third,
twenty twenty-one."``

The rules of each language live in one module of :mod:`sonorant.text.lang` (English:
:mod:`sonorant.text.lang.en`). The output is plain text for espeak-ng: sentence punctuation is
kept, no word of the input is dropped, ``[[ phonemes ]]`` blocks pass through unchanged, and any
Unicode string is accepted; only a non-string (or an unknown language) raises
:class:`~sonorant.errors.TextError`.
"""

from __future__ import annotations

from sonorant.errors import TextError
from sonorant.text.lang import get_normalizer, supported_languages

__all__ = ["normalize", "supported_languages"]


def normalize(text: str, lang: str = "en") -> str:
    """``text`` as a careful reader of ``lang`` would say it (numbers, dates, abbreviations…)."""
    if not isinstance(text, str):
        raise TextError(f"text must be a string, got {type(text).__name__}")
    return get_normalizer(lang)(text)
