"""Spelled letters: how the normalizer marks them and how the pipeline speaks them.

espeak-ng cannot be trusted with letters written as one-letter words: it collapses a run of the
same letter ("W W W W W W" is read as three W's), reads "A" as the article ("uh") and "I" as the
unstressed pronoun. So wherever the front end means *letter names* (an initialism such as "FBI",
``<say-as interpret-as="characters">``, spaced letters such as "K K K K"), the normalizer wraps
them in a *letter group*: the letters, separated by spaces, between :data:`OPEN` and
:data:`CLOSE` (two Unicode noncharacters; in the input they are read as spaces). The text pipeline
then speaks each letter of a group with the phonemes espeak gives that letter read on its own, so
every letter is said, and said as its name. A group is one word: its letters are joined, and all but the last
take secondary stress, as espeak reads an initialism ("ˌɛfbˌiːˈaɪ"); spaced letters are groups
of one letter each.

:func:`plain` removes the marks ("F B I"), which is what :func:`sonorant.text.normalize` returns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Optional

__all__ = [
    "CLOSE", "OPEN", "LetterRun", "group", "has_marks", "letter_groups", "plain", "spell_groups", "split_runs",
    "strip_marks", "word_phonemes",
]

OPEN = "\ufdd0"
"""Starts a letter group (U+FDD0, a Unicode noncharacter)."""

CLOSE = "\ufdd1"
"""Ends a letter group (U+FDD1, a Unicode noncharacter)."""

_GROUP = re.compile(f"{OPEN}([^{OPEN}{CLOSE}]*){CLOSE}")
# Groups next to each other, with only spaces between them, make one run; clause punctuation right
# after a run (past closing quotes or brackets, which are not spoken) belongs to it, because espeak
# reads punctuation with no word before it as nothing.
_GROUP_RUN = re.compile(
    f"(?P<run>{_GROUP.pattern}(?:[ \\t]*{_GROUP.pattern})*)"
    r"(?:[ \t]*[\"'”’)\]]*[ \t]*(?P<punct>[.,;:!?])[.,;:!?]*)?"
)
_MARKS = str.maketrans({OPEN: None, CLOSE: None})
_MARKS_TO_SPACES = str.maketrans({OPEN: " ", CLOSE: " "})


def group(letters: Iterable[str]) -> str:
    """One letter group (spoken as one word): ``group("FBI")`` -> ``OPEN + "F B I" + CLOSE``."""
    spaced = " ".join(c for c in letters if not c.isspace() and c not in (OPEN, CLOSE))
    return f"{OPEN}{spaced}{CLOSE}" if spaced else ""


def spell_groups(letters: Iterable[str]) -> str:
    """Letters spoken one by one, each its own group (each a word, each stressed)."""
    return " ".join(group(c) for c in letters if not c.isspace() and c not in (OPEN, CLOSE))


def has_marks(text: str) -> bool:
    """Whether ``text`` holds letter-group marks."""
    return OPEN in text or CLOSE in text


def plain(text: str) -> str:
    """``text`` with the group marks removed: the letters stay, separated by spaces."""
    return text.translate(_MARKS) if has_marks(text) else text


def strip_marks(text: str) -> str:
    """``text`` with any mark characters turned into spaces (for input, where they have no meaning)."""
    return text.translate(_MARKS_TO_SPACES) if has_marks(text) else text


def letter_groups(group_text: str) -> list[str]:
    """The letters of one group's content ("F B I" -> ["F", "B", "I"])."""
    return group_text.split()


@dataclass(frozen=True)
class LetterRun:
    """Letter groups with only spaces between them, and the clause punctuation right after them."""

    words: tuple[tuple[str, ...], ...]
    """The groups, each a tuple of letters (one word each)."""

    punct: str = ""
    """``. , ; : ! ?`` right after the run, or ``""``."""


def split_runs(text: str, speakable: Callable[[str], bool]) -> list[tuple[str, Optional[LetterRun]]]:
    """``text`` as (text before, run) pairs, in order; the run of the last pair is None.

    A run with a letter that ``speakable`` refuses is kept in the text, unmarked (nothing is dropped).
    """
    pieces: list[tuple[str, Optional[LetterRun]]] = []
    before = ""
    last = 0
    for match in _GROUP_RUN.finditer(text):
        words = tuple(tuple(letter_groups(g.group(1))) for g in _GROUP.finditer(match.group("run")))
        words = tuple(w for w in words if w)
        run = LetterRun(words, match.group("punct") or "")
        before += text[last : match.start()]
        last = match.end()
        if not words or not all(speakable(c) for w in words for c in w):
            before += plain(match.group(0))
            continue
        pieces.append((before, run))
        before = ""
    pieces.append((before + text[last:], None))
    return pieces


def word_phonemes(phonemes: Sequence[str]) -> str:
    """One group's letters (each letter's phonemes as read alone) as one word: joined, all but the
    last with secondary stress, as espeak reads an initialism ("ˌɛfbˌiːˈaɪ")."""
    *first, last = phonemes
    return "".join(p.replace("ˈ", "ˌ") for p in first) + last
