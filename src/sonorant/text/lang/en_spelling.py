"""English rules for letters read by name: initialisms, spaced letters, the letter "A", and codes with
numbers such as flight numbers.

Each handler takes a match of the master regex (:mod:`sonorant.text.lang.en_patterns`) and returns
its spoken form, with the letters to be read by name as letter groups (:mod:`sonorant.text.letters`),
which the pipeline speaks with each letter's own name (espeak alone would merge "K K K K" into three
K's and read "A" as "uh").

- **Spaced letters** ("K K K K K", "x y z", "A B C"): every letter is spoken, each on its own. A
  leading lower-case "a" or "I" after a word of the same sentence stays a word ("is a B", "I X").
- **The letter A.** A capital "A" on its own is the letter when punctuation or the end follows it
  ("Plan A.", "A, B and C"), when a word an article cannot precede follows it ("A and B", "an A
  on the test", "Plan A is"), or when it is inside a sentence and a lower-case word follows it
  ("type A blood"). At the start of a sentence before a word, or before a capitalized word
  ("A Tale of Two Cities"), it is the article.
- **Codes with numbers.** Two spelled capitals and a 3- or 4-digit number ("UA 857", "UA857",
  "HP 4500") are read the way people say flight and model numbers: the number in pairs ("U A eight
  fifty-seven"), unless a unit or scale word follows it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sonorant.text import letters
from sonorant.text.lang import en_numbers as num
from sonorant.text.lang import en_words as words

__all__ = ["amp", "caps", "capital_a", "code_number", "dots", "spaced_letters"]

_INITIAL_BEFORE = ".!?:;\n"
_OPENERS = " \t\"“‘'([{"
# Words an article never comes right before: after "A", they make it the letter.
_NOT_AFTER_ARTICLE = frozenset(
    "and or nor but is was are were be been has had have will would can could should shall may might must "
    "to of on in at for with by from as than then if so that which who".split()
)
PlainNumber = Callable[[str, int, int, str], str]


def _sentence_initial(text: str, pos: int) -> bool:
    """Whether ``pos`` starts a sentence: nothing but spaces and opening quotes after a stop before it."""
    index = pos
    while index > 0 and text[index - 1] in _OPENERS:
        index -= 1
    return index == 0 or text[index - 1] in _INITIAL_BEFORE


def dots(m: re.Match[str]) -> str:
    """Dotted initialisms: "U.S." -> the letters U S (and the sentence's period when it ends one)."""
    spoken = words.spell(m.group("dt").replace(".", ""))
    return spoken + "." if m.group("dt_dot") and words.ends_sentence(m.string, m.end(), strict=True) else spoken


def amp(m: re.Match[str]) -> str:
    """"AT&T" -> the letters A T, "and", the letter T."""
    return f"{words.spell(m.group('amp_a'))} and {words.spell(m.group('amp_b'))}"


def caps(m: re.Match[str]) -> str:
    """An all-caps word, with its plural or possessive: see :func:`en_words.caps_token`."""
    word = m.group("cw")
    return words.caps_token(word, m.group("cw_s") or "", m.string, m.start(), m.start() + len(word))


def spaced_letters(m: re.Match[str]) -> str:
    """Single letters separated by spaces: each spoken by its name."""
    tokens = m.group(0).split()
    lead = ""
    if tokens[0] in ("a", "I") and words.prev_word(m.string, m.start()):  # "is a B", "did I X"
        lead, tokens = tokens[0] + " ", tokens[1:]
    return lead + letters.spell_groups(tokens)


def capital_a(m: re.Match[str]) -> str:
    """A capital "A" on its own: the letter or the article (see the module rules)."""
    text, start, end = m.string, m.start(), m.end()
    rest = text[end:].lstrip(" \t")
    if not rest or not rest[0].isalpha():
        return letters.group("A")
    after = words.next_word(text, end)
    if after.lower() in _NOT_AFTER_ARTICLE:
        return letters.group("A")
    if _sentence_initial(text, start) or not after[:1].islower():
        return "A"
    return letters.group("A")


def code_number(m: re.Match[str], plain_number: PlainNumber) -> str:
    """Two capitals and a number: "UA 857" -> U A "eight fifty-seven"; when the capitals are a word
    ("NO 123", "OK 500"), the word and the number read as usual (``plain_number``)."""
    code, number = m.group("cn_code"), m.group("cn_num")
    spoken = words.caps_token(code, "", m.string, m.start(), m.start() + len(code))
    if not letters.has_marks(spoken):
        return f"{spoken} {plain_number(m.string, m.start('cn_num'), m.end(), number)}"
    return f"{spoken} {num.paired(number)}"
