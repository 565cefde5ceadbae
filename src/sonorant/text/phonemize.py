"""Text to IPA phonemes with espeak-ng, grouped by sentence exactly as piper-tts 1.8 does it.

:meth:`EspeakPhonemizer.phonemize` reproduces ``PiperVoice.phonemize`` for espeak voices:

- ``[[ raw phonemes ]]`` blocks are passed through, character by character, joined to the
  sentence around them;
- each espeak clause loses its ``(lang)`` switch flags, gains its terminator (``. ? ! , : ;``),
  plus a space after ``, : ;``, and is split into single codepoints after NFD decomposition;
- a clause that ends a sentence closes the current sentence; known vowel clusters are merged;
  a trailing empty sentence is dropped.

Deliberately different: every text starts from a clean espeak state (piper's espeak can carry a
held-back character, e.g. the second dot of "Wait..", into the next text), and NUL and U+0001
become spaces. Not reproduced: Piper's Arabic diacritisation (tashkeel) for the ``ar`` voice.
Words whose espeak data changed after espeak-ng 1.52 ("has been", some emoji) differ from piper.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Optional

from sonorant.errors import TextError
from sonorant.text.espeak import Espeak, get_espeak
from sonorant.text.readclause import describe_clause_type

_PHONEME_BLOCK = re.compile(r"(\[\[.*?\]\])")
_LANGUAGE_FLAG = re.compile(r"\([^)]+\)")
# NUL would end the C string early; U+0001 starts espeak's embedded commands, which change
# global espeak settings (e.g. speaking punctuation) for every later text. Both become spaces.
_UNSAFE_CHARS = str.maketrans({"\x00": " ", "\x01": " "})
_SPACE_AFTER = (",", ":", ";")

VowelClusters = Iterable[Sequence[str]]


@dataclass(frozen=True)
class Clause:
    """One espeak clause: its phonemes and how it ended."""

    phonemes: str
    """IPA phonemes as espeak returned them (language flags still in)."""

    terminator: str
    """Clause punctuation: one of ``. ? ! , : ;``, or ``""`` (paragraph, end of text, cut, other)."""

    end_of_sentence: bool
    """True when the clause ends a sentence."""


def _prepare(text: object) -> str:
    """The text as espeak may safely read it; :class:`TextError` if it is not text."""
    if not isinstance(text, str):
        raise TextError(f"text must be a string, got {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise TextError(f"text is not valid Unicode (a lone surrogate at {error.start})") from error
    return text.translate(_UNSAFE_CHARS)


class EspeakPhonemizer:
    """Phonemizer backed by the espeak-ng library of ``espeakng-loader`` (thread-safe)."""

    def __init__(self, espeak: Optional[Espeak] = None) -> None:
        self._espeak = espeak

    @property
    def espeak(self) -> Espeak:
        """The espeak-ng instance (the process-wide one unless given)."""
        if self._espeak is None:
            self._espeak = get_espeak()
        return self._espeak

    def clauses(self, text: str, voice: str) -> list[Clause]:
        """espeak's clauses of ``text`` for ``voice`` (e.g. ``"en-us"``), with their terminators."""
        text = _prepare(text)
        result = []
        for raw in self.espeak.clauses(text, voice):
            terminator, end_of_sentence = describe_clause_type(raw.clause_type)
            result.append(Clause(raw.phonemes, terminator, end_of_sentence))
        return result

    def phonemize(
        self, text: str, voice: str, vowel_clusters: Optional[VowelClusters] = None
    ) -> list[list[str]]:
        """Phonemes of ``text`` grouped by sentence, identical to piper-tts 1.8."""
        text = _prepare(text)
        clusters = {tuple(cluster) for cluster in vowel_clusters} if vowel_clusters else None
        sentences: list[list[str]] = []
        parts = _PHONEME_BLOCK.split(text)
        after_raw = False
        for index, part in enumerate(parts):
            if part.startswith("[["):
                # [[ raw phonemes ]]: joined to the current sentence, spaces kept around them
                after_raw = True
                if not sentences:
                    sentences.append([])
                if index > 0 and parts[index - 1].endswith(" "):
                    sentences[-1].append(" ")
                sentences[-1].extend(part[2:-2].strip())
                if index < len(parts) - 1 and parts[index + 1].startswith(" "):
                    sentences[-1].append(" ")
                continue
            part_sentences = self._phonemize_part(part, voice, clusters)
            if after_raw and part_sentences:
                sentences[-1].extend(part_sentences[0])
                part_sentences = part_sentences[1:]
            sentences.extend(part_sentences)
            after_raw = False
        if sentences and not sentences[-1]:
            sentences.pop()
        return sentences

    def _phonemize_part(
        self, text: str, voice: str, clusters: Optional[set[tuple[str, ...]]]
    ) -> list[list[str]]:
        sentences: list[list[str]] = []
        current: list[str] = []
        for clause in self.clauses(text, voice):
            phonemes = _LANGUAGE_FLAG.sub("", clause.phonemes) + clause.terminator
            if clause.terminator in _SPACE_AFTER:
                phonemes += " "  # not a sentence boundary
            current.extend(unicodedata.normalize("NFD", phonemes))
            if clause.end_of_sentence:
                sentences.append(merge_vowel_clusters(current, clusters) if clusters else current)
                current = []
        if current:  # text without a final sentence terminator
            sentences.append(merge_vowel_clusters(current, clusters) if clusters else current)
        return sentences


def merge_vowel_clusters(phonemes: Sequence[str], clusters: set[tuple[str, ...]]) -> list[str]:
    """Merge runs of phonemes that form a known cluster (longest first) into one phoneme."""
    longest = max(len(cluster) for cluster in clusters)
    merged: list[str] = []
    index = 0
    while index < len(phonemes):
        for size in range(min(longest, len(phonemes) - index), 1, -1):
            candidate = tuple(phonemes[index : index + size])
            if candidate in clusters:
                merged.append("".join(candidate))
                index += size
                break
        else:
            merged.append(phonemes[index])
            index += 1
    return merged
