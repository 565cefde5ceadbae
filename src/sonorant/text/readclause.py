"""espeak-ng's ``ReadClause`` replayed in Python, to learn how each clause ended.

espeak-ng 1.52 (``espeakng-loader``) exports ``espeak_TextToPhonemes``, which returns one clause's
phonemes and advances the text pointer, but not the clause type that Piper's own bridge gets from
``espeak_TextToPhonemesWithTerminator``. :class:`ClauseModel` follows readclause.c over the very
same characters, with espeak's own character classes (``ucd_properties`` from the library, the
``isw*`` functions of the C library in the locale espeak set), so it ends each clause where espeak
does and knows why: period, question, comma, paragraph, end of text, or a cut for length.
:meth:`ClauseModel.follow` checks every end against espeak's text pointer; a disagreement (a voice's
own rule we do not model) defers to espeak's position and falls back to the punctuation before it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import sys
from typing import Callable, Optional

_LOGGER = logging.getLogger(__name__)

# Clause types, as in espeak-ng's translate.h.
CLAUSE_PAUSE = 0x00000FFF
CLAUSE_INTONATION_TYPE = 0x00007000
CLAUSE_OPTIONAL_SPACE_AFTER = 0x00008000
CLAUSE_PUNCTUATION_IN_WORD = 0x00100000
CLAUSE_SPEAK_PUNCTUATION_NAME = 0x00200000
CLAUSE_TYPE_EOF = 0x00010000
CLAUSE_TYPE_CLAUSE = 0x00040000
CLAUSE_TYPE_SENTENCE = 0x00080000
CLAUSE_NONE = 0x00004000
CLAUSE_PARAGRAPH = 70 | CLAUSE_TYPE_SENTENCE
CLAUSE_EOF = 40 | CLAUSE_TYPE_SENTENCE | CLAUSE_TYPE_EOF
CLAUSE_PERIOD = 40 | CLAUSE_TYPE_SENTENCE
CLAUSE_COMMA = 20 | 0x1000 | CLAUSE_TYPE_CLAUSE
CLAUSE_QUESTION = 40 | 0x2000 | CLAUSE_TYPE_SENTENCE
CLAUSE_EXCLAMATION = 45 | 0x3000 | CLAUSE_TYPE_SENTENCE
CLAUSE_COLON = 30 | CLAUSE_TYPE_CLAUSE
CLAUSE_SEMICOLON = 30 | 0x1000 | CLAUSE_TYPE_CLAUSE

# Piper's bridge compares the low 20 bits of the clause type for equality with these.
_TERMINATORS = {
    CLAUSE_PERIOD: ".",
    CLAUSE_QUESTION: "?",
    CLAUSE_EXCLAMATION: "!",
    CLAUSE_COMMA: ",",
    CLAUSE_COLON: ":",
    CLAUSE_SEMICOLON: ";",
}

# espeak-ng's own Unicode properties (ucd.h) that decide the clause type of a punctuation mark.
_PROP_MASK = 0xFFF0000000000000
_P_INVERTED = 0x0010000000000000
_P_IN_WORD = 0x0020000000000000
_P_OPT_SPACE = 0x0040000000000000
_P_DASH = 0x0080000000000000
_P_PARAGRAPH = 0x0100000000000000
_P_ELLIPSIS = 0x0200000000000000
_P_SEMICOLON = 0x0400000000000000
_P_COLON = 0x0800000000000000
_P_COMMA = 0x1000000000000000
_P_EXCLAMATION = 0x2000000000000000
_P_QUESTION = 0x4000000000000000
_P_FULL_STOP = 0x8000000000000000

# clause_type_from_codepoint() in readclause.c, as a table over property combinations.
_CLAUSE_FROM_PROPS = {
    _P_FULL_STOP: CLAUSE_PERIOD,
    _P_FULL_STOP | _P_OPT_SPACE: CLAUSE_PERIOD | CLAUSE_OPTIONAL_SPACE_AFTER,
    _P_QUESTION: CLAUSE_QUESTION,
    _P_QUESTION | _P_OPT_SPACE: CLAUSE_QUESTION | CLAUSE_OPTIONAL_SPACE_AFTER,
    _P_QUESTION | _P_IN_WORD: CLAUSE_QUESTION | CLAUSE_PUNCTUATION_IN_WORD,
    _P_EXCLAMATION: CLAUSE_EXCLAMATION,
    _P_EXCLAMATION | _P_OPT_SPACE: CLAUSE_EXCLAMATION | CLAUSE_OPTIONAL_SPACE_AFTER,
    _P_EXCLAMATION | _P_IN_WORD: CLAUSE_EXCLAMATION | CLAUSE_PUNCTUATION_IN_WORD,
    _P_COMMA: CLAUSE_COMMA,
    _P_COMMA | _P_OPT_SPACE: CLAUSE_COMMA | CLAUSE_OPTIONAL_SPACE_AFTER,
    _P_COLON: CLAUSE_COLON,
    _P_COLON | _P_OPT_SPACE: CLAUSE_COLON | CLAUSE_OPTIONAL_SPACE_AFTER,
    _P_SEMICOLON: CLAUSE_SEMICOLON,
    _P_DASH: CLAUSE_SEMICOLON,
    _P_SEMICOLON | _P_OPT_SPACE: CLAUSE_SEMICOLON | CLAUSE_OPTIONAL_SPACE_AFTER,
    _P_QUESTION | _P_OPT_SPACE | _P_INVERTED: CLAUSE_SEMICOLON | CLAUSE_OPTIONAL_SPACE_AFTER,
    _P_EXCLAMATION | _P_OPT_SPACE | _P_INVERTED: CLAUSE_SEMICOLON | CLAUSE_OPTIONAL_SPACE_AFTER,
    _P_ELLIPSIS: CLAUSE_SEMICOLON | CLAUSE_SPEAK_PUNCTUATION_NAME | CLAUSE_OPTIONAL_SPACE_AFTER,
    _P_PARAGRAPH: CLAUSE_PARAGRAPH,
}

# Used only if the library does not export its ucd_* functions (other espeak-ng builds).
_FALLBACK_PROPS = {
    ord("."): _P_FULL_STOP, ord("?"): _P_QUESTION, ord("!"): _P_EXCLAMATION,
    ord(","): _P_COMMA, ord(":"): _P_COLON, ord(";"): _P_SEMICOLON,
    0xA1: _P_EXCLAMATION | _P_OPT_SPACE | _P_INVERTED, 0xBF: _P_QUESTION | _P_OPT_SPACE | _P_INVERTED,
    0x2013: _P_DASH, 0x2014: _P_DASH, 0x2026: _P_ELLIPSIS, 0x2029: _P_PARAGRAPH,
    0x3001: _P_COMMA | _P_OPT_SPACE, 0x3002: _P_FULL_STOP | _P_OPT_SPACE,
    0xFF01: _P_EXCLAMATION | _P_OPT_SPACE, 0xFF0C: _P_COMMA | _P_OPT_SPACE,
    0xFF0E: _P_FULL_STOP | _P_OPT_SPACE, 0xFF1A: _P_COLON | _P_OPT_SPACE,
    0xFF1B: _P_SEMICOLON | _P_OPT_SPACE, 0xFF1F: _P_QUESTION | _P_OPT_SPACE,
}

N_TR_SOURCE = 800  # espeak's clause buffer (translate.h); longer clauses are cut
_CTRL_EMBEDDED = 0x01
_CHAR_EMPHASIS = 0x0530
_CHARS_IGNORE = {0xAD: 1, 0x200C: 1}  # soft hyphen, zero-width non-joiner (tr_languages.c)
_BRACKETS = frozenset(map(ord, "()[]{}<>\"'`")) | {0xAB, 0xBB, 0x300A, 0x300B, 0xE000 + ord("<")}
_QUESTION_OR_EXCLAMATION = CLAUSE_QUESTION | CLAUSE_EXCLAMATION


def describe_clause_type(clause_type: int) -> tuple[str, bool]:
    """(terminator, end_of_sentence) for an espeak clause type, exactly as piper's bridge maps it."""
    masked = clause_type & 0x000FFFFF
    return _TERMINATORS.get(masked, ""), bool(masked & CLAUSE_TYPE_SENTENCE)


def is_bracket(c: int) -> bool:
    """IsBracket() of espeak's common.c: brackets and quotes."""
    return 0x2014 <= c <= 0x201F or c in _BRACKETS


class CharClasses:
    """espeak's view of characters: ``isw*`` from the C library and ``ucd_*`` from espeak itself."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        props: Optional[Callable[[int], int]] = None
        if hasattr(lib, "ucd_properties") and hasattr(lib, "ucd_lookup_category"):
            lookup, ucd_props = lib.ucd_lookup_category, lib.ucd_properties
            lookup.argtypes, lookup.restype = [ctypes.c_uint32], ctypes.c_int
            ucd_props.argtypes, ucd_props.restype = [ctypes.c_uint32, ctypes.c_int], ctypes.c_uint64
            props = lambda c: int(ucd_props(c, lookup(c)))  # noqa: E731

        @functools.lru_cache(maxsize=8192)
        def clause_type(c: int) -> int:
            if props is not None and 0 <= c < 0x110000:
                found = props(c) & _PROP_MASK
            else:
                found = _FALLBACK_PROPS.get(c, 0)
            return _CLAUSE_FROM_PROPS.get(found, CLAUSE_NONE)

        self.clause_type: Callable[[int], int] = clause_type
        """clause_type_from_codepoint() of readclause.c."""
        libc = _load_libc()
        self.iswalnum = self._wctype(libc, "iswalnum", str.isalnum)
        self.iswalpha = self._wctype(libc, "iswalpha", str.isalpha)
        self.iswdigit = self._wctype(libc, "iswdigit", lambda s: "0" <= s <= "9")
        self.iswlower = self._wctype(libc, "iswlower", str.islower)
        self.iswspace = self._wctype(libc, "iswspace", str.isspace)

    @staticmethod
    def _wctype(libc: Optional[ctypes.CDLL], name: str, fallback: Callable[[str], bool]) -> Callable[[int], bool]:
        """A C library character class (in the locale espeak set), or Python's as a fallback."""
        func = getattr(libc, name, None) if libc is not None else None
        if func is None:
            return functools.lru_cache(maxsize=8192)(lambda c: 0 < c < 0x110000 and fallback(chr(c)))
        func.argtypes, func.restype = [ctypes.c_uint32], ctypes.c_int
        return functools.lru_cache(maxsize=8192)(lambda c: bool(func(c)))

    def is_alpha(self, c: int) -> bool:
        """IsAlpha() of espeak's common.c: iswalpha plus some in-word marks."""
        if self.iswalpha(c):
            return True
        if c < 0x300:
            return False
        if 0x901 <= c <= 0xDF7:
            return (c & 0x7F) < 0x64 or c in (0xA70, 0xA71) or 0xD7A <= c <= 0xD7F
        return (
            0x5B0 <= c <= 0x5C2 or c == 0x605 or c == 0x670 or 0x64B <= c <= 0x65E
            or 0x300 <= c <= 0x36F or 0xF40 <= c <= 0xFBC or 0x1100 <= c <= 0x11FF
            or 0x2800 <= c <= 0x28FF or 0x3040 < c <= 0xA700
        )


def _load_libc() -> Optional[ctypes.CDLL]:
    names = ["msvcrt"] if sys.platform == "win32" else [ctypes.util.find_library("c") or "", ""]
    for name in names:
        try:
            return ctypes.CDLL(name or None)
        except OSError:
            continue
    return None


def _utf8_length(c: int) -> int:
    """Bytes espeak's utf8_out() writes for ``c``."""
    return 1 if c < 0x80 or c >= 0x110000 else 2 if c < 0x800 else 3 if c < 0x10000 else 4


class Decoder:
    """The text as espeak's decoder sees it: codepoints plus the terminating NUL."""

    def __init__(self, text: str) -> None:
        self.cps = [ord(ch) for ch in text] + [0]
        self.pos = 0  # codepoints consumed from the decoder
        self.index_of_byte: dict[int, int] = {}
        offset = 0
        for index, ch in enumerate(text):
            self.index_of_byte[offset] = index
            offset += len(ch.encode("utf-8"))
        self.index_of_byte[offset] = len(text)

    def peek(self) -> int:
        """text_decoder_peekc(): the next codepoint, without consuming it (0 at the end)."""
        return self.cps[self.pos] if self.pos < len(self.cps) else 0


class ClauseModel:
    """Replays ReadClause() of espeak-ng 1.52 to learn how each clause ended.

    Holds the one piece of espeak state that outlives a clause: the character read ahead and
    pushed back (``ungot_char``), which may even carry into the next text.
    """

    def __init__(self, chars: CharClasses) -> None:
        self.chars = chars
        self.ungot = 0

    def _getc(self, dec: Decoder) -> int:
        """GetC(): the held-back character first, then the decoder's next one."""
        if self.ungot:
            c, self.ungot = self.ungot, 0
            return c
        if dec.pos < len(dec.cps):
            dec.pos += 1
            return dec.cps[dec.pos - 1]
        return 0

    def eof(self, dec: Decoder) -> bool:
        """Eof(): nothing held back and the decoder past the terminating NUL."""
        return self.ungot == 0 and dec.pos >= len(dec.cps)

    def read_clause(self, dec: Decoder) -> int:  # noqa: C901 - mirrors one C function
        """Consume one clause from ``dec`` as espeak does; return its clause type."""
        ch = self.chars
        c1, cprev, c_next, any_alnum, stressed_word, ix = 0x20, 0x20, 0, False, False, 0
        c2 = 0 if self.eof(dec) else self._getc(dec)
        while not self.eof(dec):
            cprev, c1 = c1, c2
            c2 = 0x20 if self.eof(dec) else self._getc(dec)
            ignore = _CHARS_IGNORE.get(c1, 0)
            if ignore == 1:
                continue
            c1 = ignore or c1
            if ch.iswalnum(c1):
                any_alnum = True
            else:
                if stressed_word:
                    stressed_word, c1, self.ungot, c2 = False, _CHAR_EMPHASIS, c2, 0x20
                if c1 == 0xF0B:
                    c1 = 0x20
                if c1 == 0xD4D and c2 == 0x200D:
                    c1 = 0xD4E
            if c1 == 0x0A:  # a blank line ends the clause as a paragraph
                parag = 0
                while not self.eof(dec) and ch.iswspace(c2):
                    parag += c2 == 0x0A
                    c2 = self._getc(dec)
                if parag > 0:
                    self.ungot = c2
                    return CLAUSE_PARAGRAPH - 30 + 30 * min(parag, 3)
            is_end = False
            if c1 == 0x2E and c2 == 0x2E:  # three or more dots make an ellipsis
                while not self.eof(dec):
                    c_next = self._getc(dec)
                    if c_next != 0x2E:
                        break
                    c1, c2 = 0x2026, 0x20
                if c1 == 0x2026:
                    c2 = c_next
                else:
                    self.ungot = c_next
            punct = ch.clause_type(c1)
            if punct != CLAUSE_NONE:
                if punct & _QUESTION_OR_EXCLAMATION:  # '?!', '!!?': the first one decides
                    while not self.eof(dec) and ch.clause_type(c2) & _QUESTION_OR_EXCLAMATION:
                        c_next = c2 = self._getc(dec)
                if punct & CLAUSE_PUNCTUATION_IN_WORD:
                    stressed_word = True
                    continue
                if (
                    ch.iswspace(c2) or punct & CLAUSE_OPTIONAL_SPACE_AFTER or is_bracket(c2)
                    or c2 == 0x3F or self.eof(dec) or c2 == _CTRL_EMBEDDED
                ):
                    is_end = True
            if is_end:
                nl_count, c_next = 0, c2
                if ch.iswspace(c_next):
                    while not self.eof(dec) and ch.iswspace(c_next):
                        nl_count += c_next == 0x0A
                        c_next = self._getc(dec)
                if nl_count == 0:
                    if c1 == 0x2E and c_next == 0x27 and dec.peek() == 0x73:
                        is_end = False  # "u.s.a.'s"
                    if c1 == 0x2E:
                        if ch.iswlower(c_next):
                            is_end = False  # a dot before a lower-case word: an abbreviation
                        if not any_alnum:
                            c1, is_end = 0x20, False
                    elif not any_alnum:
                        is_end = False
                if is_end:
                    self.ungot = c_next
                    if nl_count > 1:
                        if punct in (CLAUSE_QUESTION, CLAUSE_EXCLAMATION):
                            return punct + 35
                        return CLAUSE_PARAGRAPH
                    return punct
                if not self.eof(dec) and ch.iswspace(c2):
                    self.ungot = c_next
            ix += _utf8_length(c1)
            if (ix > N_TR_SOURCE - 75 and not ch.is_alpha(c1) and not ch.iswdigit(c1)) or ix >= N_TR_SOURCE - 4:
                self.ungot = c2  # clause too long for espeak's buffer: cut here
                return CLAUSE_NONE
        return CLAUSE_EOF

    def follow(self, dec: Decoder, espeak_pos: int) -> int:
        """Replay the clause espeak just read, which left its decoder at ``espeak_pos``; return its type."""
        start = dec.pos
        clause_type = self.read_clause(dec)
        while dec.pos < espeak_pos and not self.eof(dec):
            clause_type = self.read_clause(dec)  # espeak read on where we ended (a voice's own rule)
        if dec.pos == espeak_pos:
            return clause_type
        # espeak ended earlier than we would have: follow it, and take the clause type from the
        # last punctuation before its one character of look-ahead.
        _LOGGER.debug("clause model out of step with espeak-ng (%d, not %d)", dec.pos, espeak_pos)
        at_end = espeak_pos >= len(dec.cps)
        stop = espeak_pos if at_end else espeak_pos - 1
        dec.pos, self.ungot = espeak_pos, (0 if at_end else dec.cps[stop])
        for c in reversed(dec.cps[start:stop]):
            if c and not self.chars.iswspace(c) and not is_bracket(c):
                punct = self.chars.clause_type(c)
                if punct != CLAUSE_NONE:
                    return punct
                break
        return CLAUSE_EOF if at_end else CLAUSE_NONE
