"""NeMo's grapheme-to-phoneme step, as its TTS models run it at inference (used by :mod:`sonorant.text.nemo`).

Two G2P modules are ported from NeMo 2.7.3 by behaviour, so that a FastPitch ``.nemo`` gets exactly
the symbols it was trained on:

- :class:`ArpabetG2p` (NeMo's ``EnglishG2p``): CMUdict lookup of lower-cased words; a word missing
  from the dictionary, ambiguous (several pronunciations while ``ignore_ambiguous_words``) or a
  heteronym stays as its letters; ``'s`` / ``s`` endings of known words add ``Z``; an unknown
  hyphenated word is read part by part.
- :class:`IpaG2p` (NeMo's ``IpaG2p``): the same for an IPA dictionary whose pronunciations are split
  into single characters; graphemes are case-converted (``grapheme_case``) and prefixed
  (``grapheme_prefix``, "#" in NeMo's recipes); English ``'s`` / ``s`` endings follow the last
  letter (/s/ after t, /ɪz/ after s, else /z/), French elided articles (l', qu', …) are prefixed.

Both read words with NeMo's word pattern: a run of letters, possibly with inner hyphens and
apostrophes ("don't", "well-known"), or ``|…|`` (kept as written, split at spaces: phonemes given
by hand), or a run of anything else (spaces, punctuation, digits), which is passed on character by
character. NeMo drops a ``|`` without its closing partner without a word; here it is reported.

NeMo can replace a word by its letters at random while training (``phoneme_probability``); its
models switch that off at inference (``FastPitchModel.parse`` sets the probability to 1.0), so
these ports never do it: the same text always gives the same symbols.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sonorant.errors import VoiceError

__all__ = [
    "LOCALES",
    "ArpabetG2p",
    "IpaG2p",
    "Word",
    "any_locale_text_preprocessing",
    "english_text_preprocessing",
    "ipa_punctuation",
    "read_lines",
    "split_words",
]

_BASIC_LETTERS = "A-Za-z"
_ALL_LETTERS = "A-Za-zÀ-ÖØ-öø-ÿ"
LOCALES = ("en-US", "de-DE", "es-ES", "it-IT", "fr-FR", "vi-VN")
"""The IPA locales this port knows (NeMo also has ja-JP, with its own G2P)."""

DEFAULT_PUNCTUATION = (",", ".", "!", "?", "-", ":", ";", "/", '"', "(", ")", "[", "]", "{", "}")
"""The punctuation NeMo's English tokenizers keep (LJSpeech's, and "/")."""

_GUILLEMETS = ("«", "»", "‹", "›")
_GERMANIC_QUOTES = ("„", "“", "‚", "‘", "‒", "–", "—")
_EXTRA_PUNCTUATION: dict[str, tuple[str, ...]] = {
    "de-DE": _GUILLEMETS + _GERMANIC_QUOTES,
    "it-IT": _GUILLEMETS + _GERMANIC_QUOTES + (
        "ʴ", "ʰ", "ʱ", "ʲ", "ʷ", "ˠ", "ˤ", "˞↓", "↑", "→", "↗", "↘", "”", "’", "-",
    ),
    "es-ES": _GUILLEMETS + ("¿", "¡"),
    "fr-FR": _GUILLEMETS + ("–", "“", "”", "…", "\u0300", "\u0301", "\u0302", "\u0308", "\u0327"),
}
# NeMo reads "’" as an apostrophe and curly double quotes as '"' before English G2P.
_ASCII_QUOTES = str.maketrans({"’": "'", "”": '"', "“": '"'})
# French elisions read before a dictionary word: written prefix -> its phonemes.
_FRENCH_ELISIONS = (
    ("l", "l"), ("c", "s"), ("d", "d"), ("j", "ʒ"), ("m", "m"), ("n", "n"), ("qu", "k"), ("s", "s"),
    ("t", "t"), ("puisqu", "pyisk"), ("lorsqu", "loʁsk"), ("jusqu", "ʒysk"),
)
_VARIANT = re.compile(r"\([0-9]+\)")
_WHITESPACE = re.compile(r"\s+")
_STRESS_MARKS = frozenset("ˈˌ")


def ipa_punctuation(locale: str | None) -> list[str]:
    """The punctuation NeMo's IPA tokenizer keeps for ``locale``, sorted as NeMo sorts it."""
    if locale is not None and locale not in LOCALES:
        raise VoiceError(f"NeMo locale {locale!r} is not supported (known: {', '.join(LOCALES)})")
    return sorted(set(DEFAULT_PUNCTUATION) | set(_EXTRA_PUNCTUATION.get(locale or "", ())))


def english_text_preprocessing(text: str, lower: bool = True) -> str:
    """NeMo's English clean-up: accents removed (NFD without combining marks), curly quotes made
    ASCII, lower-cased if ``lower``."""
    decomposed = unicodedata.normalize("NFD", text)
    text = "".join(c for c in decomposed if unicodedata.category(c) != "Mn").translate(_ASCII_QUOTES)
    return text.lower() if lower else text


def any_locale_text_preprocessing(text: str) -> str:
    """NeMo's clean-up for other locales: NFC, and "’" read as an apostrophe."""
    return unicodedata.normalize("NFC", text).replace("’", "'")


@dataclass(frozen=True)
class Word:
    """One item of NeMo's word split: a word, a ``|…|`` group (``verbatim``), or a run of other characters."""

    parts: list[str]
    """The word (one item), or a ``|…|`` group's content split at single spaces."""

    verbatim: bool = False
    """Whether this was a ``|…|`` group, passed on unchanged."""


def _word_pattern(letters: str) -> re.Pattern[str]:
    # A word starts and ends with a letter and may hold hyphens and apostrophes inside.
    return re.compile(rf"([{letters}](?:[{letters}'\-]*[{letters}])?)|(\|[^|]*\|)|([^{letters}|]+)")


_WORDS_EN = _word_pattern(_BASIC_LETTERS)
_WORDS_ANY = _word_pattern(_ALL_LETTERS)


def split_words(text: str, english: bool) -> tuple[list[Word], list[str]]:
    """NeMo's word split of ``text`` (English: ASCII letters, words lower-cased; else Latin letters
    with accents, case kept), and the characters it drops (a ``|`` with no closing ``|``)."""
    pattern = _WORDS_EN if english else _WORDS_ANY
    words: list[Word] = []
    dropped: list[str] = []
    end = 0
    for match in pattern.finditer(text):
        dropped.extend(text[end : match.start()])
        end = match.end()
        word, verbatim, other = match.groups()
        if word is not None:
            words.append(Word([word.lower() if english else word]))
        elif verbatim is not None:
            words.append(Word(verbatim[1:-1].split(" "), verbatim=True))
        else:
            words.append(Word([other]))
    dropped.extend(text[end:])
    return words, dropped


def read_lines(data: bytes, encoding: str) -> Iterable[str]:
    """The lines of a text file's bytes as Python's ``open(path, encoding=encoding)`` yields them."""
    try:
        yield from io.TextIOWrapper(io.BytesIO(data), encoding=encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise VoiceError(f"cannot read a NeMo dictionary file as {encoding}: {exc}") from exc


def _split_hyphenated(word: str, read: Callable[[str], tuple[list[str], bool]]) -> list[str]:
    """An unknown hyphenated word read part by part, the hyphens kept between the parts."""
    symbols: list[str] = []
    for index, part in enumerate(word.split("-")):
        if index:
            symbols.append("-")
        symbols.extend(read(part)[0])
    return symbols


class ArpabetG2p:
    """NeMo's ``EnglishG2p``: English text to ARPAbet phonemes (CMUdict), letters where unknown."""

    def __init__(
        self,
        phoneme_dict: dict[str, list[list[str]]],
        heteronyms: set[str] | None = None,
        ignore_ambiguous_words: bool = True,
    ) -> None:
        """``phoneme_dict``: lower-case word -> pronunciations (:meth:`read_cmudict`); ``heteronyms``:
        words always left as letters."""
        self.phoneme_dict = phoneme_dict
        self.heteronyms = heteronyms
        self.ignore_ambiguous_words = ignore_ambiguous_words

    @staticmethod
    def read_cmudict(data: bytes, encoding: str = "latin-1") -> dict[str, list[list[str]]]:
        """A CMUdict file as NeMo reads it: lines starting with A-Z or "'", word and phonemes separated
        by two spaces, ``WORD(2)`` variants appended in file order, words lower-cased."""
        entries: dict[str, list[list[str]]] = {}
        for number, line in enumerate(read_lines(data, encoding), 1):
            if not line or not ("A" <= line[0] <= "Z" or line[0] == "'"):
                continue
            parts = line.split("  ")
            if len(parts) < 2:
                raise VoiceError(f"CMUdict line {number} has no two-space separator: {line.rstrip()!r}")
            word = _VARIANT.sub("", parts[0]).lower()
            entries.setdefault(word, []).append(parts[1].strip().split(" "))
        return entries

    def __call__(self, word: str) -> tuple[list[str], bool]:
        """NeMo's ``parse_one_word`` (at inference)."""
        if re.search(r"[a-zA-ZÀ-ÿ\d]", word) is None:
            return list(word), True  # punctuation or spaces
        if self.heteronyms is not None and word in self.heteronyms:
            return list(word), True
        known = self.phoneme_dict
        if len(word) > 2 and word.endswith("'s") and word not in known and self._usable(word[:-2]):
            return known[word[:-2]][0] + ["Z"], True
        if len(word) > 1 and word.endswith("s") and word not in known and self._usable(word[:-1]):
            return known[word[:-1]][0] + ["Z"], True
        if self._usable(word):
            return list(known[word][0]), True
        return list(word), False

    def _usable(self, word: str) -> bool:
        prons = self.phoneme_dict.get(word)
        return prons is not None and (not self.ignore_ambiguous_words or len(prons) == 1)

    def g2p(self, text: str) -> tuple[list[str], list[str]]:
        """Symbols of ``text`` (already preprocessed), and the characters the word split dropped."""
        words, dropped = split_words(text, english=True)
        symbols: list[str] = []
        for word in words:
            if word.verbatim:
                symbols.extend(word.parts)
                continue
            pron, handled = self(word.parts[0])
            if not handled and "-" in word.parts[0]:
                pron = _split_hyphenated(word.parts[0], self)
            symbols.extend(pron)
        return symbols, dropped


class IpaG2p:
    """NeMo's ``IpaG2p``: text to IPA characters from a dictionary, prefixed graphemes where unknown."""

    def __init__(
        self,
        phoneme_dict: dict[str, list[list[str]]],
        locale: str | None = "en-US",
        heteronyms: list[str] | None = None,
        ignore_ambiguous_words: bool = True,
        use_chars: bool = False,
        use_stresses: bool = True,
        grapheme_case: str = "upper",
        grapheme_prefix: str = "",
    ) -> None:
        """``phoneme_dict``: word -> pronunciations as lists of characters (:meth:`read_dict`);
        ``use_chars``: graphemes of the dictionary's words are symbols too (NeMo turns it on when a
        ``phoneme_probability`` is set); ``grapheme_case``: "upper", "lower" or "mixed"."""
        if locale is not None and locale not in LOCALES:
            raise VoiceError(f"NeMo locale {locale!r} is not supported (known: {', '.join(LOCALES)})")
        if grapheme_case not in ("upper", "lower", "mixed"):
            raise VoiceError(f"grapheme_case must be 'upper', 'lower' or 'mixed', got {grapheme_case!r}")
        if not phoneme_dict:
            raise VoiceError("the NeMo IPA dictionary has no entries")
        self.locale = locale
        self.use_chars = use_chars
        self.use_stresses = use_stresses
        self.grapheme_case = grapheme_case
        self.grapheme_prefix = grapheme_prefix or ""
        self.ignore_ambiguous_words = ignore_ambiguous_words
        self.phoneme_dict, self.symbols = self._normalize(phoneme_dict)
        self.heteronyms = {self._case(h) for h in heteronyms} if heteronyms else None

    @staticmethod
    def read_dict(data: bytes) -> dict[str, list[list[str]]]:
        """An IPA dictionary file as NeMo reads it (UTF-8, NFC per line; lines starting with a Latin
        letter or "'"; the word, then its pronunciation with all whitespace removed)."""
        entries: dict[str, list[list[str]]] = {}
        for number, line in enumerate(read_lines(data, "utf-8"), 1):
            line = unicodedata.normalize("NFC", line)
            first = line[:1]
            if not first or not (
                "A" <= first <= "Z" or "a" <= first <= "z" or "À" <= first <= "Ö" or "Ø" <= first <= "ö"
                or "ø" <= first <= "ÿ" or first == "'"
            ):
                continue
            parts = line.strip().split(maxsplit=1)
            if len(parts) < 2:
                raise VoiceError(f"IPA dictionary line {number} has no pronunciation: {line.rstrip()!r}")
            entries.setdefault(_VARIANT.sub("", parts[0]), []).append(list(_WHITESPACE.sub("", parts[1])))
        return entries

    def _case(self, text: str) -> str:
        if self.grapheme_case == "upper":
            return text.upper()
        return text.lower() if self.grapheme_case == "lower" else text

    def _graphemes(self, word: str) -> list[str]:
        return [self.grapheme_prefix + c for c in word]

    def _normalize(self, entries: dict[str, list[list[str]]]) -> tuple[dict[str, list[list[str]]], set[str]]:
        """Words case-converted (the last of words equal after conversion wins), stress marks dropped
        unless ``use_stresses``; the symbol set: every phoneme, and the graphemes if ``use_chars``."""
        table: dict[str, list[list[str]]] = {}
        symbols: set[str] = set()
        not_letter = re.compile(rf"[^{_ALL_LETTERS}\d]")
        for word, prons in entries.items():
            key = self._case(word)
            if self.use_chars:
                symbols.update(self._graphemes(not_letter.sub("", key)))
            if not self.use_stresses:
                prons = [[s for s in pron if s not in _STRESS_MARKS] for pron in prons]
            for pron in prons:
                symbols.update(pron)
            table[key] = prons
            if self.grapheme_case == "mixed" and not key.isupper():
                table[key.upper()] = prons  # "HELLO" finds "Hello"
        return table, symbols

    def keep_only(self, symbols: set[str]) -> None:
        """NeMo's ``replace_symbols`` (a tokenizer's ``fixed_vocab``): the symbol set becomes ``symbols``;
        words with other graphemes are removed, and pronunciations with other phonemes (the word too
        when none is left)."""
        for word in list(self.phoneme_dict):
            if set(self._graphemes(self._case(word))) - symbols:
                del self.phoneme_dict[word]
                continue
            legal = [pron for pron in self.phoneme_dict[word] if not set(pron) - symbols]
            if not legal:
                del self.phoneme_dict[word]
            elif len(legal) != len(self.phoneme_dict[word]):
                self.phoneme_dict[word] = legal
        self.symbols = set(symbols)

    def _usable(self, word: str) -> bool:
        prons = self.phoneme_dict.get(word)
        return prons is not None and (not self.ignore_ambiguous_words or len(prons) == 1)

    def _found(self, stem: str) -> str | None:
        """The dictionary key of ``stem`` as written or upper-cased, if any."""
        if stem in self.phoneme_dict:
            return stem
        return stem.upper() if stem.upper() in self.phoneme_dict else None

    def _unknown(self, word: str) -> bool:
        return word not in self.phoneme_dict and word.upper() not in self.phoneme_dict

    def __call__(self, word: str) -> tuple[list[str], bool]:
        """NeMo's ``parse_one_word`` (at inference)."""
        word = self._case(word)
        known = self.phoneme_dict
        if re.search(rf"[{_ALL_LETTERS}\d]", word) is None:
            return list(word), True  # punctuation or spaces
        if self.heteronyms and word in self.heteronyms:
            return self._graphemes(word), True
        if self.locale == "en-US":
            if len(word) > 2 and word[-2:] in ("'s", "'S") and self._unknown(word):
                stem = self._found(word[:-2])
                if stem is not None and self._usable(stem):
                    ending = ["s"] if stem[-1] in "Tt" else ["ɪ", "z"] if stem[-1] in "Ss" else ["z"]
                    return known[stem][0] + ending, True
            if len(word) > 1 and word[-1] in "sS" and self._unknown(word):
                stem = self._found(word[:-1])
                if stem is not None and self._usable(stem):
                    return known[stem][0] + (["s"] if stem[-1] in "Tt" else ["z"]), True
        if self.locale == "fr-FR":
            for written, spoken in _FRENCH_ELISIONS:
                starter = written + "'"
                if len(word) > 2 and (word.startswith((starter, starter.upper()))):
                    stem = self._found(word[len(starter) :]) if self._unknown(word) else None
                    if stem is not None and self._usable(stem):
                        return list(spoken) + known[stem][0], True
        if self._usable(word):
            return list(known[word][0]), True
        if self.grapheme_case == "mixed" and word not in known and word.upper() in known:
            if self._usable(word.upper()):
                return list(known[word.upper()][0]), True
            word = word.upper()  # NeMo spells the unknown word in upper case from here
        return self._graphemes(word), False

    def g2p(self, text: str) -> tuple[list[str], list[str]]:
        """Symbols of ``text`` (already preprocessed), and the characters the word split dropped."""
        text = unicodedata.normalize("NFC", text)
        words, dropped = split_words(text, english=self.locale == "en-US")
        symbols: list[str] = []
        for word in words:
            if word.verbatim:
                symbols.extend(self.grapheme_prefix + part for part in word.parts)
                continue
            pron, handled = self(word.parts[0])
            if not handled and "-" in word.parts[0]:
                pron = _split_hyphenated(word.parts[0], self)
            symbols.extend(pron)
        return symbols, dropped
