"""Text front end: text normalization, espeak-ng phonemes grouped by sentence, and phoneme ids for
Piper-style voices.

``sonorant.text.normalize(text, lang="en") -> str`` gives the spoken form of a text (see
:mod:`sonorant.text.normalizer`).
"""

from __future__ import annotations

import threading
from typing import Optional

from sonorant.text.ids import BOS, EOS, PAD, phonemes_to_ids
from sonorant.text.normalizer import normalize, supported_languages
from sonorant.text.phonemize import Clause, EspeakPhonemizer

__all__ = [
    "BOS", "EOS", "PAD", "Clause", "EspeakPhonemizer", "get_phonemizer", "normalize", "phonemes_to_ids",
    "supported_languages",
]

_PHONEMIZER: Optional[EspeakPhonemizer] = None
_PHONEMIZER_LOCK = threading.Lock()


def get_phonemizer() -> EspeakPhonemizer:
    """The shared :class:`EspeakPhonemizer` (espeak-ng itself is loaded on first use)."""
    global _PHONEMIZER
    with _PHONEMIZER_LOCK:
        if _PHONEMIZER is None:
            _PHONEMIZER = EspeakPhonemizer()
        return _PHONEMIZER
