"""A ctypes binding to the espeak-ng library shipped by the ``espeakng-loader`` package.

espeak-ng turns text into IPA one clause at a time (``espeak_TextToPhonemes``). Piper's own
bridge calls ``espeak_TextToPhonemesWithTerminator``, which also reports *how* each clause ended
(period, question, comma, paragraph, ...); the stock espeak-ng 1.52 library does not export that
function. We recover the clause type ourselves: :class:`_ClauseModel` replays the clause-ending
rules of espeak's ``ReadClause`` (readclause.c) over the same characters, with espeak's own
character classes (``ucd_properties`` from the library, ``isw*`` from the C library in the
locale espeak set), and checks every clause end against how far espeak really advanced the text
pointer. Where the two disagree (an exotic voice rule we do not model), espeak's position wins and
the clause type falls back to the punctuation found just before it.

espeak-ng keeps all of this in process-global state, so every call goes through one module-level
lock. This module must never import ``piper``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import sys
import threading
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

from sonorant.errors import PhonemizerError

_LOGGER = logging.getLogger(__name__)

# One lock for everything that touches espeak-ng (and the clause model that mirrors its state).
_LOCK = threading.Lock()

AUDIO_OUTPUT_SYNCHRONOUS = 0x02
ESPEAK_CHARS_AUTO = 0
ESPEAK_PHONEMES_IPA = 0x02

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
# Phonemes are written with this separator between them (bits 8-23 of the phoneme mode), so that
# the IPA and the mnemonic output of a clause line up phoneme by phoneme.
_SEPARATOR = "\x01"
_SEPARATED = ord(_SEPARATOR) << 8


def describe_clause_type(clause_type: int) -> tuple[str, bool]:
    """(terminator, end_of_sentence) for an espeak clause type, exactly as piper's bridge maps it."""
    masked = clause_type & 0x000FFFFF
    return _TERMINATORS.get(masked, ""), bool(masked & CLAUSE_TYPE_SENTENCE)


@dataclass(frozen=True)
class RawClause:
    """One clause as espeak-ng produced it."""

    phonemes: str
    """IPA phonemes of the clause, as espeak returned them."""

    clause_type: int
    """espeak's clause type (``CLAUSE_*``): pause, intonation and phrase-type bits."""


def _is_bracket(c: int) -> bool:
    return 0x2014 <= c <= 0x201F or c in _BRACKETS


class _CharClasses:
    """espeak's view of characters: ``isw*`` from the C library and ``ucd_*`` from espeak itself."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._clause_cache: dict[int, int] = {}
        self._ucd_props: Optional[Callable[[int], int]] = None
        if hasattr(lib, "ucd_properties") and hasattr(lib, "ucd_lookup_category"):
            lookup, props = lib.ucd_lookup_category, lib.ucd_properties
            lookup.argtypes, lookup.restype = [ctypes.c_uint32], ctypes.c_int
            props.argtypes, props.restype = [ctypes.c_uint32, ctypes.c_int], ctypes.c_uint64
            self._ucd_props = lambda c: int(props(c, lookup(c)))
        libc = _load_libc()
        self.iswalnum = self._wctype(libc, "iswalnum", str.isalnum)
        self.iswalpha = self._wctype(libc, "iswalpha", str.isalpha)
        self.iswdigit = self._wctype(libc, "iswdigit", lambda s: "0" <= s <= "9")
        self.iswlower = self._wctype(libc, "iswlower", str.islower)
        self.iswspace = self._wctype(libc, "iswspace", str.isspace)

    @staticmethod
    def _wctype(libc: Optional[ctypes.CDLL], name: str, fallback: Callable[[str], bool]) -> Callable[[int], bool]:
        func = getattr(libc, name, None) if libc is not None else None
        if func is None:
            return functools.lru_cache(maxsize=4096)(lambda c: 0 < c < 0x110000 and fallback(chr(c)))
        func.argtypes, func.restype = [ctypes.c_uint32], ctypes.c_int
        return functools.lru_cache(maxsize=4096)(lambda c: bool(func(c)))

    def clause_type(self, c: int) -> int:
        """clause_type_from_codepoint() of readclause.c."""
        cached = self._clause_cache.get(c)
        if cached is None:
            if self._ucd_props is not None and 0 <= c < 0x110000:
                props = self._ucd_props(c) & _PROP_MASK
            else:
                props = _FALLBACK_PROPS.get(c, 0)
            cached = self._clause_cache[c] = _CLAUSE_FROM_PROPS.get(props, CLAUSE_NONE)
        return cached

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


class _Decoder:
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


class _ClauseModel:
    """Replays ReadClause() of espeak-ng 1.52 to learn how each clause ended.

    Holds the one piece of espeak state that outlives a clause: the character read ahead and
    pushed back (``ungot_char``), which may even carry into the next text.
    """

    def __init__(self, chars: _CharClasses) -> None:
        self.chars = chars
        self.ungot = 0

    def _getc(self, dec: _Decoder) -> int:
        if self.ungot:
            c, self.ungot = self.ungot, 0
            return c
        if dec.pos < len(dec.cps):
            dec.pos += 1
            return dec.cps[dec.pos - 1]
        return 0

    def _eof(self, dec: _Decoder) -> bool:
        return self.ungot == 0 and dec.pos >= len(dec.cps)

    def read_clause(self, dec: _Decoder) -> int:  # noqa: C901 - mirrors one C function
        """Consume one clause from ``dec`` as espeak does; return its clause type."""
        ch = self.chars
        c1, cprev, any_alnum, stressed_word, ix = 0x20, 0x20, False, False, 0
        c2 = self._getc(dec)
        while not self._eof(dec):
            cprev, c1 = c1, c2
            c2 = self._getc(dec)
            if self._eof(dec):
                c2 = 0x20
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
                while not self._eof(dec) and ch.iswspace(c2):
                    parag += c2 == 0x0A
                    c2 = self._getc(dec)
                if parag > 0:
                    self.ungot = c2
                    return CLAUSE_PARAGRAPH - 30 + 30 * min(parag, 3)
            is_end = False
            if c1 == 0x2E and c2 == 0x2E:  # three or more dots make an ellipsis
                c_next = self._getc(dec)
                while c_next == 0x2E:
                    c1, c2 = 0x2026, 0x20
                    c_next = self._getc(dec)
                if c1 == 0x2026:
                    c2 = c_next
                else:
                    self.ungot = c_next
            punct = ch.clause_type(c1)
            if punct != CLAUSE_NONE:
                if punct & _QUESTION_OR_EXCLAMATION:  # '?!', '!!?': the first one decides
                    while ch.clause_type(c2) & _QUESTION_OR_EXCLAMATION:
                        c2 = self._getc(dec)
                if punct & CLAUSE_PUNCTUATION_IN_WORD:
                    stressed_word = True
                    continue
                if (
                    ch.iswspace(c2) or punct & CLAUSE_OPTIONAL_SPACE_AFTER or _is_bracket(c2)
                    or c2 == 0x3F or self._eof(dec) or c2 == _CTRL_EMBEDDED
                ):
                    is_end = True
            if is_end:
                nl_count, c_next = 0, c2
                if ch.iswspace(c_next):
                    while not self._eof(dec) and ch.iswspace(c_next):
                        nl_count += c_next == 0x0A
                        c_next = self._getc(dec)
                if nl_count == 0:
                    if c1 == 0x2E:
                        if c_next == 0x27 and dec.pos < len(dec.cps) and dec.cps[dec.pos] == 0x73:
                            is_end = False  # "u.s.a.'s"
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
                if not self._eof(dec) and ch.iswspace(c2):
                    self.ungot = c_next
            ix += len(chr(c1).encode("utf-8", "surrogatepass")) if c1 < 0x110000 else 1
            if (ix > N_TR_SOURCE - 75 and not ch.is_alpha(c1) and not ch.iswdigit(c1)) or ix >= N_TR_SOURCE - 4:
                self.ungot = c2  # clause too long for espeak's buffer: cut here
                return CLAUSE_NONE
        return CLAUSE_EOF

    def follow(self, dec: _Decoder, espeak_pos: int) -> int:
        """Replay the clause espeak just read, which left its decoder at ``espeak_pos``; return its type."""
        start = dec.pos
        clause_type = self.read_clause(dec)
        while dec.pos < espeak_pos and not self._eof(dec):
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
            if c and not self.chars.iswspace(c) and not _is_bracket(c):
                punct = self.chars.clause_type(c)
                if punct != CLAUSE_NONE:
                    return punct
                break
        return CLAUSE_EOF if at_end else CLAUSE_NONE


class Espeak:
    """The espeak-ng library, initialised once per process. Use :func:`get_espeak`."""

    def __init__(
        self, library_path: Optional[str] = None, data_path: Optional[str] = None, *, write_glides: bool = True
    ) -> None:
        """Load and initialise espeak-ng (default: the library and data of ``espeakng-loader``).

        ``write_glides``: write espeak's ';' phoneme (the linking glide in "he is", "the end") as
        IPA 'ʲ', as the newer espeak-ng that piper-tts 1.8 is built with does; espeak-ng 1.52
        leaves it out of its IPA. Costs a second pass over the text.
        """
        if library_path is None or data_path is None:
            try:
                import espeakng_loader
            except ImportError as error:
                raise PhonemizerError(
                    "espeak-ng is not available: install the 'espeakng-loader' package"
                ) from error
            library_path = library_path or espeakng_loader.get_library_path()
            data_path = data_path or espeakng_loader.get_data_path()
        try:
            lib = ctypes.CDLL(library_path)
        except OSError as error:
            raise PhonemizerError(f"cannot load the espeak-ng library {library_path}: {error}") from error
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        with _LOCK:
            if lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode("utf-8"), 0) < 0:
                raise PhonemizerError(f"espeak-ng failed to initialise with data at {data_path}")
        self._lib = lib
        self._voice: Optional[str] = None
        self.write_glides = write_glides
        self._model = _ClauseModel(_CharClasses(lib))
        self.data_path = data_path

    def _set_voice(self, voice: str) -> None:
        if voice == self._voice:
            return
        if not voice or "\0" in voice or self._lib.espeak_SetVoiceByName(voice.encode("utf-8")) != 0:
            self._voice = None
            raise PhonemizerError(f"espeak-ng has no voice named {voice!r}")
        self._voice = voice

    def set_voice(self, voice: str) -> None:
        """Select an espeak-ng voice by name (e.g. ``"en-us"``); raises :class:`PhonemizerError`."""
        with _LOCK:
            self._set_voice(voice)

    def clauses(self, text: str, voice: str) -> list[RawClause]:
        """Phonemes and clause type of every clause of ``text`` (no NUL allowed in it)."""
        with _LOCK:
            self._set_voice(voice)
            ipa = self._run(text, ESPEAK_PHONEMES_IPA | _SEPARATED)
            if not self.write_glides:
                return [RawClause(phonemes.replace(_SEPARATOR, ""), kind) for phonemes, kind in ipa]
            # Same text again, as phoneme mnemonics: they show where espeak put its ';' phoneme.
            mnemonics = self._run(text, _SEPARATED)
        if len(mnemonics) != len(ipa):
            _LOGGER.debug("espeak gave %d IPA and %d mnemonic clauses", len(ipa), len(mnemonics))
            return [RawClause(phonemes.replace(_SEPARATOR, ""), kind) for phonemes, kind in ipa]
        return [RawClause(_with_glides(phonemes, names), kind) for (phonemes, kind), (names, _) in zip(ipa, mnemonics)]

    def _run(self, text: str, phoneme_mode: int) -> list[tuple[str, int]]:
        """One pass of espeak_TextToPhonemes over ``text``: (phonemes, clause type) per clause."""
        raw = text.encode("utf-8")
        buffer = ctypes.create_string_buffer(raw)
        base = ctypes.addressof(buffer)
        pointer = ctypes.c_void_p(base)
        dec = _Decoder(text)
        clauses: list[tuple[str, int]] = []
        while pointer.value is not None:
            start = pointer.value - base
            result = self._lib.espeak_TextToPhonemes(ctypes.byref(pointer), ESPEAK_CHARS_AUTO, phoneme_mode)
            if pointer.value is None:
                espeak_pos = len(dec.cps)
            else:
                offset = pointer.value - base
                if not start < offset <= len(raw) or offset not in dec.index_of_byte:
                    raise PhonemizerError(f"espeak-ng stopped advancing through the text at byte {offset}")
                espeak_pos = dec.index_of_byte[offset]
            clauses.append((result.decode("utf-8", "replace") if result else "", self._model.follow(dec, espeak_pos)))
        return clauses


def _with_glides(ipa: str, mnemonics: str) -> str:
    """IPA of a clause with espeak's ';' phoneme written as 'ʲ' (both strings phoneme-separated)."""
    ipa_words, mnemonic_words = ipa.split(" "), mnemonics.split(" ")
    if len(ipa_words) != len(mnemonic_words):
        return ipa.replace(_SEPARATOR, "")
    words = []
    for ipa_word, mnemonic_word in zip(ipa_words, mnemonic_words):
        slots, names = ipa_word.split(_SEPARATOR), mnemonic_word.split(_SEPARATOR)
        if len(slots) == len(names):
            slots = ["ʲ" if name == ";" and not slot else slot for slot, name in zip(slots, names)]
        words.append("".join(slots))
    return " ".join(words)


_ESPEAK: Optional[Espeak] = None
_ESPEAK_INIT_LOCK = threading.Lock()


def get_espeak() -> Espeak:
    """The process-wide espeak-ng instance (created on first use)."""
    global _ESPEAK
    with _ESPEAK_INIT_LOCK:
        if _ESPEAK is None:
            _ESPEAK = Espeak()
        return _ESPEAK
