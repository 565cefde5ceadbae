"""English word rules: initialisms and acronyms, Roman numerals, abbreviations, URLs, context.

Pure functions over strings (plus the whole text and a position where context matters); the
regexes that find the tokens live in :mod:`sonorant.text.lang.en_patterns`.

All-caps words (the rule, in order):

1. a Roman numeral in context (see :func:`roman`) is read as a number;
2. a word of :data:`~sonorant.text.lang.en_data.ACRONYM_WORDS` (NASA, NATO, laser…) is a word,
   written capitalized ("Nasa") so espeak never spells it;
3. two letters: spelled ("US" -> "U S") unless a common word (NO, GO, OK…);
4. three letters: a word if it is a common English word (THE, NOT, YES…) or looks like one
   (pronounceable and not ending in a vowel other than E: "MOB"), else spelled ("FBI", "CIA");
5. four or five letters: spelled if it is a known initialism (IEEE, NCAA…) or cannot be
   pronounced as English (no vowel, or a start/end consonant cluster English does not allow:
   "HTML", "ESPN", "NYPD"), else a word ("HELP", "LOUD");
6. six letters or more: always a word.

Within a run of three or more all-caps words ("THIS IS LOUD") the rule applies word by word,
except that a word of four or five letters is spelled only when known or without a vowel: a
shouted sentence is read, not spelled, and "THE FBI IS HERE" still spells FBI.
(Y counts as a vowel at the end of a word or between consonants; QU starts a word; an H after
the vowel is silent: "BYTE", "QUIET" and "JOHN" are words.)
Spelled letters are one letter group (:mod:`sonorant.text.letters`; "F B I" once the marks are
removed), which the pipeline speaks letter name by letter name; with a plural or possessive the
last letter carries it as a word ("CDs" -> "C D's").
"""

from __future__ import annotations

import re
from typing import Optional

from sonorant.text import letters
from sonorant.text.lang.en_data import (
    ACRONYM_WORDS,
    CODAS,
    COMMON_THREE,
    KNOWN_INITIALISMS,
    ONSETS,
    REGNAL_NAMES,
    ROMAN_CARDINAL_CUES,
    SENTENCE_OPENERS,
    TWO_LETTER_WORDS,
    URL_SYMBOLS,
)
from sonorant.text.lang.en_numbers import cardinal, digits, ordinal

_VOWELS = frozenset("AEIOU")
_VOWEL_PAIRS = frozenset("AI AU AY EA EE EI EU EY IA IE IO OA OE OI OO OU OY UA UE UI UO".split())
_ROMAN = re.compile(r"M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
_NEXT_WORD = re.compile(r"[ \t]*([A-Za-z]+)")
_URL_PART = re.compile(r"[A-Za-z]+|[0-9]+|.", re.DOTALL)
_SENTENCE_END = re.compile(r"[\"'”’)\]]*(?:\s*\Z|\s+[\"“‘(\[]*([A-Z][a-z]*))")
_CAPS_WORD = re.compile(r"[A-Z][A-Z'’]*")


# ------------------------------------------------------------------------------------- context
def prev_word(text: str, pos: int) -> str:
    """The alphabetic word right before ``pos``, separated from it by spaces only ("" if none)."""
    end = pos
    while end > 0 and text[end - 1] in " \t":
        end -= 1
    start = end
    while start > 0 and text[start - 1].isalpha():
        start -= 1
    return text[start:end]


def prev_token(text: str, pos: int) -> tuple[str, bool]:
    """The token (non-space run) before ``pos`` and whether it begins a sentence."""
    end = pos
    while end > 0 and text[end - 1].isspace():
        end -= 1
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    before = start
    while before > 0 and text[before - 1].isspace():
        before -= 1
    initial = before == 0 or text[before - 1] in ".!?\n\"“"
    return text[start:end], initial


def next_word(text: str, pos: int) -> str:
    """The alphabetic word right after ``pos`` (spaces allowed before it; "" if none)."""
    match = _NEXT_WORD.match(text, pos)
    return match.group(1) if match else ""


def ends_sentence(text: str, pos: int, strict: bool = False) -> bool:
    """True when the text at ``pos`` ends a sentence: end of text, or a capital comes next.

    Used where a consumed dot ("etc.", "p.m.", "U.S.") also ended the sentence, to keep it.
    ``strict`` (after initialisms and names, where a capital often continues the name: "U.S. Army",
    "Main St. Station"): the capitalized word must be a usual sentence opener ("The", "It"…).
    """
    match = _SENTENCE_END.match(text, pos)
    if match is None:
        return False
    return not strict or match.group(1) is None or match.group(1) in SENTENCE_OPENERS


# --------------------------------------------------------------------------------- initialisms
def spell(word: str) -> str:
    """Letters read one by one, as one letter group: "FBI" -> the group "F B I"."""
    return letters.group(word.upper())


def _is_vowel(word: str, index: int) -> bool:
    """Whether word[index] is a vowel: A E I O U (not the U of QU), and Y where it sounds as one."""
    char = word[index]
    if char == "U":
        return index == 0 or word[index - 1] != "Q"
    if char == "Y":  # a vowel at the end (FLY) or between consonants (BYTE, SYNC), else a consonant
        if index == 0:
            return False
        return index == len(word) - 1 or (word[index - 1] not in _VOWELS and word[index + 1] not in _VOWELS)
    return char in _VOWELS


def _vowel_groups(word: str) -> list[tuple[int, int]]:
    """(start, end) of each vowel run of an upper-case word."""
    groups: list[tuple[int, int]] = []
    index = 0
    while index < len(word):
        if _is_vowel(word, index):
            start = index
            while index < len(word) and _is_vowel(word, index):
                index += 1
            groups.append((start, index))
        else:
            index += 1
    return groups


def pronounceable(word: str) -> bool:
    """True when an upper-case word could be read as an English word (see the module rules)."""
    groups = _vowel_groups(word)
    if not groups:
        return False
    for start, end in groups:
        run = word[start:end]
        if len(run) > 2 or (len(run) == 2 and run not in _VOWEL_PAIRS):
            return False
    onset = word[: groups[0][0]]
    coda = word[groups[-1][1] :]
    if onset and onset not in ONSETS:
        return False
    if coda.startswith("H"):  # a silent H after the vowel: JOHN, OH, AHMED
        coda = coda[1:]
    if coda and coda not in CODAS:
        return False
    for (_, end), (start, _) in zip(groups, groups[1:]):
        if end < start and start - end > 3:
            return False
    return True


def caps_word(word: str, in_run: bool = False) -> str:
    """An all-caps word (no Roman numeral context) as it should be read: spelled or a word.

    ``in_run``: the word is part of an all-caps run ("QUIET PLEASE"), where words are the rule,
    so a word of four or five letters is spelled only when known or without a vowel.
    """
    if word in ACRONYM_WORDS:
        return word.capitalize()
    length = len(word)
    if length == 1:
        return word
    if length == 2:
        return word if word in TWO_LETTER_WORDS else spell(word)
    if length == 3:
        if word in COMMON_THREE:
            return word
        if word in KNOWN_INITIALISMS or not pronounceable(word) or word[-1] in "AIOU":
            return spell(word)
        return word
    if length <= 5 and word in KNOWN_INITIALISMS:
        return spell(word)
    if length <= 5 and not (_vowel_groups(word) if in_run else pronounceable(word)):
        return spell(word)
    return word


def caps_token(word: str, suffix: str, text: str, start: int, end: int) -> str:
    """An all-caps token with an optional plural/possessive ``suffix`` ("CDs", "FBI's")."""
    numeral = roman(word, text, start, end)
    if numeral is not None:
        return numeral + suffix
    read = caps_word(word)
    if read == word or not suffix:
        return read + suffix
    if read == word.capitalize():
        return read + suffix
    # spelled: the last letter takes the plural or possessive, as a word espeak reads ("D's")
    return f"{spell(word[:-1])} {word[-1]}" + ("'s" if suffix in ("s", "'s", "’s") else suffix)


# ------------------------------------------------------------------------------ Roman numerals
def roman_value(word: str) -> Optional[int]:
    """The value of a valid upper-case Roman numeral ("XIV" -> 14), else None."""
    if not word or _ROMAN.fullmatch(word) is None:
        return None
    total = 0
    for index, char in enumerate(word):
        value = _ROMAN_VALUES[char]
        if index + 1 < len(word) and _ROMAN_VALUES[word[index + 1]] > value:
            total -= value
        else:
            total += value
    return total


def roman(word: str, text: str, start: int, end: int) -> Optional[str]:
    """A Roman numeral read in context, or None when ``word`` is not one here.

    - after a word of :data:`ROMAN_CARDINAL_CUES` (Chapter, Part, World War…): a cardinal,
      "Chapter IV" -> "Chapter four";
    - after a capitalized name (not a sentence opener such as "The"), numerals of I, V and X up
      to 39 of two letters or more are regnal: "Henry VIII" -> "Henry the eighth"; a lone "I"
      only after a known monarch's name and not before a lower-case word ("Elizabeth I." yes,
      "then I went" never); lone V and X never.
    """
    value = roman_value(word)
    if value is None:
        return None
    before = prev_word(text, start)
    if not before:
        return None
    if before.lower() in ROMAN_CARDINAL_CUES:
        return cardinal(value)
    if before.isupper() and before.capitalize() in REGNAL_NAMES:  # HENRY VIII in a shouted line
        before = before.capitalize()
    if len(before) < 2 or not before[0].isupper() or not before[1:].islower() or before in SENTENCE_OPENERS:
        return None
    if value > 39 or word.strip("IVX"):
        return None
    if len(word) == 1:
        if word != "I" or before not in REGNAL_NAMES:
            return None
        after = next_word(text, end)
        if after and after[0].islower():
            return None
    return f"the {ordinal(value)}"


def caps_run(run: str, text: str, start: int) -> str:
    """A run of all-caps words ("THIS IS LOUD"): each word read by :func:`caps_word` in context."""
    out: list[str] = []
    last = 0
    for match in _CAPS_WORD.finditer(run):
        out.append(run[last : match.start()])
        word = match.group()
        base, apostrophe, tail = word.partition("'") if "'" in word else word.partition("’")
        numeral = roman(base, text, start + match.start(), start + match.start() + len(base))
        if numeral is not None:
            out.append(numeral + apostrophe + tail)
        elif apostrophe:
            out.append(word)  # DON'T, IT'S: contractions are words
        else:
            out.append(caps_word(word, in_run=True))
        last = match.end()
    out.append(run[last:])
    return "".join(out)


# ------------------------------------------------------------------------------- abbreviations
def street_or_title(abbreviation: str, text: str, start: int, end: int) -> tuple[str, bool]:
    """"Dr." / "St.": (expansion, is_after_a_name).

    After a capitalized word that does not begin the sentence, or after a number, they are a
    street ("Elm Dr." -> "Elm Drive", "Main St." -> "Main Street"); before a capitalized word,
    a title ("Dr. Smith" -> "Doctor Smith", "St. Louis" -> "Saint Louis"); a capitalized first
    word of the sentence counts as a name only when no capitalized word follows ("Elm Dr. is
    closed"). Otherwise "Doctor" and "Street".
    """
    title, street = ("Doctor", "Drive") if abbreviation == "Dr" else ("Saint", "Street")
    token, initial = prev_token(text, start)
    name_before = bool(token) and (token[0].isupper() or token[0].isdigit()) and token[-1].isalnum()
    after = next_word(text, end)
    name_after = bool(after) and after[0].isupper() and not ends_sentence_word(text, end)
    if name_before and not initial:
        return street, True
    if name_after:
        return title, False
    if name_before:
        return street, True
    return (title, False) if abbreviation == "Dr" else (street, True)


def ends_sentence_word(text: str, end: int) -> bool:
    """True when what follows ``end`` is a new sentence after a line break (not a name)."""
    index = end
    while index < len(text) and text[index] in " \t":
        index += 1
    return index < len(text) and text[index] == "\n"


# ------------------------------------------------------------------------------- URLs, e-mail
def read_url(url: str) -> str:
    """A URL or e-mail address read aloud: "https://example.com/docs" -> "example dot com slash docs",
    "jane.doe@mail.org" -> "jane dot doe at mail dot org"."""
    lowered = url.lower()
    for scheme in ("https://", "http://", "ftp://", "mailto:"):
        if lowered.startswith(scheme):
            url = url[len(scheme) :]
            break
    if url.endswith("/"):
        url = url[:-1]
    words: list[str] = []
    for part in _URL_PART.findall(url):
        if part.isalpha():
            words.append(letters.spell_groups("www") if part.lower() == "www" else part)
        elif part.isdigit():
            words.append(cardinal(int(part)) if len(part) <= 2 or (len(part) <= 4 and part[0] != "0") else digits(part))
        elif part in URL_SYMBOLS:
            words.append(URL_SYMBOLS[part])
        elif part.isalnum():
            words.append(part)
    return " ".join(words)
