"""Sentence splitting for plain text, and splitting of over-long sentences' phonemes.

:func:`split_sentences` cuts text into sentences with rules that survive the usual traps of English
prose: abbreviations (Dr., St., e.g., vs.), initialisms (U.S.), initials (J. R. R. Tolkien),
decimals (3.14), quotations ("Stop!" she said.) and ellipses. It never drops a character: the
sentences, concatenated, hold every non-space character of the input in order
(:func:`sentence_spans` gives the exact spans, which tile the text). ``[[ phonemes ]]`` blocks are
never cut.

:func:`split_long` cuts one sentence's phonemes into pieces whose model input (``^ _ p1 _ … pn _ $``,
``2 * n + 3`` ids, see :func:`sonorant.text.ids.phonemes_to_ids`) fits a length limit, at clause
boundaries first, then at word boundaries; a word is cut only when it alone exceeds the limit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["CLAUSE_PHONEMES", "max_phonemes", "sentence_spans", "split_long", "split_sentences"]

# Sentence terminators: a run of these followed by closing quotes/brackets and whitespace.
_TERMINATORS = ".!?…"
# CJK full-width terminators end a sentence without a following space.
_CJK_TERMINATORS = "。！？"
_CLOSERS = "\"'”’»)]}›"
_OPENERS = "\"'“‘«([{‹¿¡"
_PHONEME_BLOCK = re.compile(r"\[\[.*?\]\]")
_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n\s*")

# Abbreviations (lower case, without their final dot) that are normally followed by more of the
# same sentence. After these the sentence goes on unless the next word is a typical sentence
# opener ("Main St. The house ..."), see _STARTERS.
_TITLES = frozenset(
    "mr mrs ms mx messrs mme mlle dr prof st sr jr sen rep gov gen lt col capt cpt sgt maj adm cmdr "
    "rev fr hon pres supt insp det mt ft ave blvd rd".split()
)
# Abbreviations after which a sentence never ends.
_NEVER_END = frozenset("e.g eg i.e ie vs v cf viz al approx ca".split())
# Abbreviations that may end a sentence: it ends when the next word is capitalised.
_OTHER = frozenset(
    "etc inc ltd co corp llc plc dept est no nos fig figs vol vols pp ch sec p op ed eds univ assn bros "
    "jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun "
    "min max hr hrs sq oz lb lbs ft in yd mi km kg cm mm ph.d phd m.d b.a m.a b.sc m.sc".split()
)
# Words that typically open a sentence; after an ambiguous abbreviation or an initial they decide
# that a new sentence starts ("I moved to the U.S. It was great.").
_STARTERS = frozenset(
    "i it it's he she we they you the this that these those there then but and so or if when what "
    "why how where a an my his her our their its in on at after before however yet now here is was are "
    "were do does did can could will would should let no yes not as for to all some many most "
    "although though while because since once also meanwhile still thus hence today tomorrow yesterday "
    "unfortunately fortunately finally first second next later".split()
)
_INITIALISM = re.compile(r"^(?:[^\W\d_]\.)*[^\W\d_]$")

CLAUSE_PHONEMES = frozenset({",", ";", ":", ".", "!", "?", "—", "…"})
"""Phonemes after which :func:`split_long` prefers to cut (clause and sentence punctuation)."""


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, stripped of surrounding whitespace; ``[]`` for blank text."""
    return [text[start:end].strip() for start, end in sentence_spans(text) if text[start:end].strip()]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence; the spans tile ``text`` exactly (whitespace included).

    A sentence ends after a run of ``. ! ? …`` (plus closing quotes and brackets) followed by
    whitespace and a word that does not start in lower case, unless the period belongs to an
    abbreviation or an initial; also after a blank line, and after ``。！？``.
    """
    if not text:
        return []
    protected = _protected(text)
    cuts: list[int] = []
    for match in _PARAGRAPH.finditer(text):
        if not protected[match.start()]:
            cuts.append(match.end())
    index = 0
    n = len(text)
    while index < n:
        char = text[index]
        if protected[index] or (char not in _TERMINATORS and char not in _CJK_TERMINATORS):
            index += 1
            continue
        run_start = index
        while index < n and (text[index] in _TERMINATORS or text[index] in _CJK_TERMINATORS):
            index += 1
        terminators = text[run_start:index]
        while index < n and text[index] in _CLOSERS:
            index += 1
        if any(c in _CJK_TERMINATORS for c in terminators):
            cuts.append(_skip_space(text, index))
            continue
        if index < n and not text[index].isspace():
            continue  # 3.14, e.g., example.com, "Hi!"—
        after = _skip_space(text, index)
        if after >= n:
            continue
        if _ends_sentence(text, run_start, terminators, after):
            cuts.append(after)
    bounds = sorted({0, n, *(c for c in cuts if 0 < c < n)})
    return list(zip(bounds[:-1], bounds[1:]))


def _protected(text: str) -> list[bool]:
    """Per character: inside a ``[[ phonemes ]]`` block (never cut there)."""
    flags = [False] * len(text)
    for match in _PHONEME_BLOCK.finditer(text):
        for i in range(match.start(), match.end()):
            flags[i] = True
    return flags


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index].isspace():
        index += 1
    return index


def _next_word(text: str, index: int) -> str:
    """The word starting at ``index``, opening quotes/brackets skipped (may be empty)."""
    while index < len(text) and text[index] in _OPENERS:
        index += 1
    end = index
    while end < len(text) and (text[end].isalnum() or text[end] in "'’"):
        end += 1
    return text[index:end] if end > index else text[index : index + 1]


def _word_before(text: str, end: int) -> str:
    """The whitespace-delimited token that ends at ``end``, opening quotes/brackets skipped."""
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while start < end and text[start] in _OPENERS:
        start += 1
    return text[start:end]


def _ends_sentence(text: str, run_start: int, terminators: str, after: int) -> bool:
    """Whether the terminator run at ``run_start``, followed by the word at ``after``, ends a sentence."""
    following = _next_word(text, after)
    first = following[:1]
    if not first or first.islower():
        return False  # "Stop!" she said; e.g. the; Wait... what
    if terminators != ".":
        return True
    token = _word_before(text, run_start).lower()
    if not token or not any(c.isalpha() for c in token):
        return True  # "It cost $5. Then ..."
    starter = following.lower() in _STARTERS
    if token in _NEVER_END:
        return False
    if token in _TITLES or _INITIALISM.match(token):
        return starter  # Dr. Smith / Main St. The; J. R. R. Tolkien / the U.S. It
    if token in _OTHER:
        return not first.isdigit()  # No. 5 / etc. The
    return True


def max_phonemes(max_len: int) -> int:
    """The most phonemes a piece may hold so that its ``2 * n + 3`` ids fit ``max_len``."""
    return (max_len - 3) // 2


def split_long(phonemes: Sequence[str], max_len: int) -> list[list[str]]:
    """Cut one sentence's phonemes into pieces whose ids (``2 * n + 3``) fit ``max_len``.

    Cuts go after clause punctuation (``, ; : . ! ?``, with the space after it) when such a cut
    keeps a piece at least a third of the limit long, else at a word boundary (a space), else —
    only inside a word longer than the limit — at the limit. The pieces, concatenated, are the
    input; none is empty (a piece of only spaces occurs just where it keeps a word whole). ``[]`` for
    no phonemes. Counts assume one id per phoneme, as Piper's maps
    have; raises ``ValueError`` when ``max_len`` cannot hold a single phoneme.
    """
    limit = max_phonemes(max_len)
    if limit < 1:
        raise ValueError(f"max_len must be at least 5 (one phoneme with BOS, pads and EOS), got {max_len}")
    items = list(phonemes)
    n = len(items)
    pieces: list[list[str]] = []
    start = 0
    while start < n:
        if n - start <= limit:
            pieces.append(items[start:])
            break
        end = _best_cut(items, start, limit)
        pieces.append(items[start:end])
        start = end
    return pieces


def _best_cut(items: list[str], start: int, limit: int) -> int:
    """End (exclusive) of the piece that starts at ``start``: clause, then word boundary, then limit."""
    stop = start + limit  # the piece is items[start:end] with start < end <= stop < len(items)
    content = start  # a piece must hold more than spaces: end > the first non-space
    while content < stop and items[content] == " ":
        content += 1
    min_clause = max(start + max(1, limit // 3), content + 1)
    word_cut = 0
    for end in range(stop, content, -1):
        previous = items[end - 1]
        if end >= min_clause and (
            previous in CLAUSE_PHONEMES or (previous == " " and end - 2 >= start and items[end - 2] in CLAUSE_PHONEMES)
        ):
            return end
        if not word_cut and (previous == " " or items[end] == " "):
            word_cut = end
    if word_cut:
        return word_cut
    if content > start and _word_end(items, content) - content <= limit:
        return content  # only spaces before a word that fits a piece of its own: keep the word whole
    return stop


def _word_end(items: list[str], start: int) -> int:
    end = start
    while end < len(items) and items[end] != " ":
        end += 1
    return end
