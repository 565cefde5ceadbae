"""A ctypes binding to the espeak-ng library shipped by the ``espeakng-loader`` package.

espeak-ng turns text into IPA one clause at a time (``espeak_TextToPhonemes``). Two things Piper's
own bridge gets from its newer espeak-ng build are recovered here:

- the clause type (period, question, comma, paragraph, ...), which ``espeak_TextToPhonemes`` does
  not report: :mod:`sonorant.text.readclause` replays espeak's clause reader over the same text;
- the linking glide of "he is" or "the end": espeak puts its ';' phoneme there, which espeak-ng
  1.52 leaves out of IPA and newer builds write as 'ʲ'. A second pass over the text in phoneme
  mnemonics, phoneme for phoneme against the IPA, shows where it goes.

espeak-ng holds process-global state, so everything goes through one module-level lock. Each text
starts from a clean reader: espeak sometimes holds back a character at the end of a text (after
"Wait..") and would read it first in the next one; we make it drop it. This module must never
import ``piper``.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from dataclasses import dataclass
from typing import Optional

from sonorant.errors import PhonemizerError
from sonorant.text.readclause import CharClasses, ClauseModel, Decoder

_LOGGER = logging.getLogger(__name__)

# One lock for everything that touches espeak-ng (and the clause model that mirrors its state).
_LOCK = threading.Lock()

AUDIO_OUTPUT_SYNCHRONOUS = 0x02
ESPEAK_INITIALIZE_DONT_EXIT = 0x8000  # report a bad data path instead of exit(1)
ESPEAK_CHARS_AUTO = 0
ESPEAK_PHONEMES_IPA = 0x02
# Phonemes are written with this separator between them (bits 8-23 of the phoneme mode), so that
# the IPA and the mnemonic output of a clause line up phoneme by phoneme.
_SEPARATOR = "\x01"
PHONEME_SEPARATOR = _SEPARATOR
"""What `Espeak.aligned_readings` puts between phonemes."""
_SEPARATED = ord(_SEPARATOR) << 8
_MAX_STALLS = 8  # calls in a row that may leave the text pointer where it was


@dataclass(frozen=True)
class RawClause:
    """One clause as espeak-ng produced it."""

    phonemes: str
    """IPA phonemes of the clause."""

    clause_type: int
    """espeak's clause type (``CLAUSE_*`` of :mod:`sonorant.text.readclause`)."""


@dataclass
class _Loaded:
    """One loaded espeak-ng library: its process-global state, as far as we track it."""

    lib: ctypes.CDLL
    model: ClauseModel
    data_path: Optional[str] = None
    voice: Optional[str] = None


_LOADED: dict[str, _Loaded] = {}


def _load(library_path: str) -> _Loaded:
    key = os.path.realpath(library_path)
    loaded = _LOADED.get(key)
    if loaded is None:
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
        loaded = _LOADED[key] = _Loaded(lib, ClauseModel(CharClasses(lib)))
    return loaded


class Espeak:
    """espeak-ng as a phonemizer. Use :func:`get_espeak` for the shared default instance."""

    def __init__(
        self, library_path: Optional[str] = None, data_path: Optional[str] = None, *, write_glides: bool = True
    ) -> None:
        """Load espeak-ng (default: the library and data of ``espeakng-loader``).

        ``write_glides``: write espeak's ';' phoneme (the linking glide in "he is", "the end") as
        IPA 'ʲ', as the newer espeak-ng that piper-tts 1.8 is built with does; espeak-ng 1.52
        leaves it out. Costs a second pass over the text.
        """
        if library_path is None or data_path is None:
            try:
                import espeakng_loader
            except ImportError as error:
                raise PhonemizerError("espeak-ng is not available: install the 'espeakng-loader' package") from error
            library_path = library_path or espeakng_loader.get_library_path()
            data_path = data_path or espeakng_loader.get_data_path()
        if not os.path.isfile(os.path.join(data_path, "phontab")):
            raise PhonemizerError(f"{data_path} is not an espeak-ng data directory (no phontab in it)")
        self.data_path = data_path
        self.write_glides = write_glides
        with _LOCK:
            self._loaded = _load(library_path)
            self._initialise()

    def _initialise(self) -> None:
        loaded = self._loaded
        if loaded.data_path == self.data_path:
            return
        options = ESPEAK_INITIALIZE_DONT_EXIT
        if loaded.lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, self.data_path.encode("utf-8"), options) < 0:
            raise PhonemizerError(f"espeak-ng failed to initialise with the data in {self.data_path}")
        loaded.data_path, loaded.voice = self.data_path, None

    def _set_voice(self, voice: str) -> None:
        self._initialise()
        loaded = self._loaded
        if voice == loaded.voice:
            return
        loaded.voice = None
        if not isinstance(voice, str) or not voice or "\0" in voice:
            raise PhonemizerError(f"espeak-ng has no voice named {voice!r}")
        if loaded.lib.espeak_SetVoiceByName(voice.encode("utf-8")) != 0:
            raise PhonemizerError(f"espeak-ng has no voice named {voice!r} (see `espeak-ng --voices`)")
        loaded.voice = voice

    def set_voice(self, voice: str) -> None:
        """Select an espeak-ng voice by name (e.g. ``"en-us"``); raises :class:`PhonemizerError`."""
        with _LOCK:
            self._set_voice(voice)

    def clauses(self, text: str, voice: str) -> list[RawClause]:
        """Phonemes and clause type of every clause of ``text`` (which must not contain NUL)."""
        with _LOCK:
            self._set_voice(voice)
            self._drop_held_back()
            ipa = self._run(text, ESPEAK_PHONEMES_IPA | _SEPARATED)
            self._drop_held_back()
            if not self.write_glides:
                return [RawClause(phonemes.replace(_SEPARATOR, ""), kind) for phonemes, kind in ipa]
            mnemonics = self._run(text, _SEPARATED)
            self._drop_held_back()
        if len(mnemonics) != len(ipa):
            _LOGGER.debug("espeak-ng gave %d IPA and %d mnemonic clauses", len(ipa), len(mnemonics))
            return [RawClause(phonemes.replace(_SEPARATOR, ""), kind) for phonemes, kind in ipa]
        return [RawClause(_with_glides(phonemes, names), kind) for (phonemes, kind), (names, _) in zip(ipa, mnemonics)]

    def aligned_readings(self, text: str, voice: str) -> list[tuple[str, str]]:
        """Per clause: (IPA, espeak mnemonics), both with `PHONEME_SEPARATOR` between phonemes."""
        with _LOCK:
            self._set_voice(voice)
            self._drop_held_back()
            ipa = self._run(text, ESPEAK_PHONEMES_IPA | _SEPARATED)
            self._drop_held_back()
            names = self._run(text, _SEPARATED)
            self._drop_held_back()
        return [(i, n) for (i, _), (n, _) in zip(ipa, names)]

    def _drop_held_back(self) -> None:
        """Make espeak read away a character it holds back, so the next text starts clean."""
        for _ in range(3):
            if not self._loaded.model.ungot:
                return
            self._run("", _SEPARATED)

    def _run(self, text: str, phoneme_mode: int) -> list[tuple[str, int]]:
        """One pass of espeak_TextToPhonemes over ``text``: (phonemes, clause type) per clause."""
        lib, model = self._loaded.lib, self._loaded.model
        raw = text.encode("utf-8")
        buffer = ctypes.create_string_buffer(raw)
        base = ctypes.addressof(buffer)
        pointer = ctypes.c_void_p(base)
        dec = Decoder(text)
        clauses: list[tuple[str, int]] = []
        stalls = 0
        while pointer.value is not None:
            start = pointer.value - base
            result = lib.espeak_TextToPhonemes(ctypes.byref(pointer), ESPEAK_CHARS_AUTO, phoneme_mode)
            if pointer.value is None:
                position = len(dec.cps)
            else:
                offset = pointer.value - base
                if not start <= offset <= len(raw) or offset not in dec.index_of_byte:
                    raise PhonemizerError(f"espeak-ng lost its place in the text (byte {offset} of {len(raw)})")
                stalls = stalls + 1 if offset == start else 0
                if stalls > _MAX_STALLS:
                    raise PhonemizerError(f"espeak-ng stopped advancing through the text at byte {offset}")
                position = dec.index_of_byte[offset]
            clause_type = model.follow(dec, position)
            clauses.append((result.decode("utf-8", "replace") if result else "", clause_type))
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
            slots = [_glide_slot(slot, name) for slot, name in zip(slots, names)]
        words.append("".join(slots))
    return " ".join(words)


def _glide_slot(slot: str, name: str) -> str:
    """One phoneme slot with a ';' mnemonic written as 'ʲ'.

    A ';' that starts a word run together with the word before it shares its slot with the next
    phoneme (no separator is written at such a word start).
    """
    if name == ";":
        return slot or "ʲ"
    if name.startswith(";") and not slot.startswith("ʲ"):
        return "ʲ" + slot
    return slot


_ESPEAK: Optional[Espeak] = None


def get_espeak() -> Espeak:
    """The process-wide espeak-ng phonemizer on ``espeakng-loader``'s library and data."""
    global _ESPEAK
    with _LOCK:
        if _ESPEAK is not None:
            return _ESPEAK
    espeak = Espeak()
    with _LOCK:
        if _ESPEAK is None:
            _ESPEAK = espeak
        return _ESPEAK
