"""Tacotron2's text front end as NVIDIA DeepLearningExamples (DLE) has it: text to its 148 symbol ids.

DLE's ``text_to_sequence(text, ["english_cleaners"])`` (keithito's front end, kept by DLE) reads letters
and a little punctuation; :class:`DleTokenizer` gives the same ids. Its table (:data:`SYMBOLS`):

- id 0: ``_`` (padding; never produced from text), id 1: ``-``,
- ids 2-11: ``! ' ( ) , . : ; ?`` and the space, ids 12-63: ``A``-``Z`` then ``a``-``z``
  (text is lower-cased, so only the lower-case ids occur),
- ids 64-147: the 84 CMUdict ARPAbet symbols prefixed by ``@``, in sorted order (``@AA``, ``@AA0``,
  ``@AA1``, ``@AA2``, ``@AE`` … ``@ZH``): 24 consonants and 15 vowels bare and with stress 0, 1, 2.

Reading plain text (DLE's ``english_cleaners`` without its number step):

1. transliteration to ASCII (:func:`to_ascii`);
2. lower case;
3. DLE's 18 abbreviations, each ``\\b<abbr>\\.`` in DLE's order: ``mrs.`` -> misess, ``mr.`` -> mister,
   ``dr.`` -> doctor, ``st.`` -> saint, ``co.`` -> company, ``jr.``, ``maj.``, ``gen.``, ``drs.``,
   ``rev.``, ``lt.``, ``hon.``, ``sgt.``, ``capt.``, ``esq.``, ``ltd.``, ``col.``, ``ft.`` -> fort;
4. runs of whitespace made one space (edge spaces are kept, as in DLE);
5. one symbol per character; a character the table lacks is dropped, as DLE drops it, and logged
   once per character and tokenizer (digits, ``"``, ``#``, ``[``, ``&``, ``_`` …; the NeMo front
   end, :mod:`sonorant.text.nemo`, does the same).

ARPAbet: ``{HH AH0 L OW1}`` (DLE's syntax) and ``[[ HH AH0 L OW1 ]]`` (sonorant's, also what SSML
``<phoneme>`` becomes) give the ``@`` symbols of the space-separated CMUdict symbols inside. Unlike
DLE, which drops what it cannot read there, a symbol outside the table (``hh``, ``XX``), an empty
block, and a ``{`` or ``}`` without its partner raise :class:`~sonorant.errors.TextError`.

What differs from DLE:

- numbers: DLE spells digits out (with ``inflect``); here sonorant's normalizer does it before the
  tokenizer (so ``"1999"`` is read as sonorant reads it), and digits reaching the tokenizer
  (``normalize=False``) are dropped and logged;
- transliteration: the same ASCII as DLE's tables for Latin letters and punctuation wherever DLE
  has a form, but letters DLE has none for keep their base letter (``ō`` ``ĉ`` ``ǎ`` ``ṭ`` -> o c a
  t, ``Œ`` -> OE, ``ﬁ`` -> fi), ``…`` is ``...``, ``—`` and ``―`` are ``-`` (DLE drops all of
  these), ``ſ`` is s (DLE: f), and look-alike mappings (``Ʒ`` -> 3) and other scripts (Greek,
  Cyrillic, which DLE spells in Latin letters) are dropped and logged; every Unicode space is a
  space (DLE drops U+3000);
- ``_`` in text is dropped and logged: DLE means to drop it (it is the padding symbol), but its test
  compares strings by identity, which under CPython 3.11 lets it through as id 0;
- a ``{…}`` after a line break is ARPAbet here (DLE's brace pattern stops at line breaks).

In :func:`tacotron2_pipeline` (what ``Voice.phoneme_ids`` runs), text is cut into sentences and each
is read without the whitespace at its ends: for a text the normalizer leaves unchanged, each
sentence's ids are DLE's ids of that sentence, and joined by a space id they are DLE's of the text.
"""

from __future__ import annotations

import functools
import logging
import re
import string
import threading
import unicodedata
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from sonorant.errors import TextError
from sonorant.text.nemo import CONSONANTS, VOWELS

if TYPE_CHECKING:
    from sonorant.text.pipeline import TextPipeline

__all__ = ["ARPABET", "SYMBOLS", "DleTokenizer", "english_cleaners", "keep_arpabet", "tacotron2_pipeline", "to_ascii"]

_LOGGER = logging.getLogger(__name__)

PAD = "_"
"""The padding symbol (id 0)."""
ARPABET: tuple[str, ...] = tuple(sorted((*CONSONANTS, *(v + s for v in VOWELS for s in ("", "0", "1", "2")))))
"""The 84 CMUdict symbols Tacotron2 knows, in table order."""
SYMBOLS: tuple[str, ...] = (PAD, "-", *"!'(),.:;? ", *string.ascii_uppercase, *string.ascii_lowercase,
                            *(f"@{s}" for s in ARPABET))
"""Id -> symbol: DLE's 148 Tacotron2 symbols."""

# ASCII forms that are not a character's NFKD letters (DLE's, unless marked as ours).
_ASCII_FORMS: dict[str, str] = {
    "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ẞ": "SS",
    "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe",  # Œ œ: ours (DLE drops them)
    "Ð": "D", "ð": "d", "Þ": "TH", "þ": "th", "Ø": "O", "ø": "o", "Đ": "D", "đ": "d", "Ł": "L", "ł": "l",
    "ı": "i", "ſ": "s",  # ſ: ours (DLE: f)
    "¢": "c", "¥": "Y", "×": "x", "¨": '"', "´": "'", "¸": ",",
    **dict.fromkeys("‐‑‒–⁃", "-"), **dict.fromkeys("—―", "-"),  # — ―: ours (DLE drops them)
    **dict.fromkeys("‘’‛′‵", "'"), **dict.fromkeys("“”‟„", '"'), "‚": ",",
    "‹": "<", "›": ">", "‽": "?!", "⁄": "/", "⁁": "/", "⁎": "*", "⁓": "~", "⁚": ":",
}
_ABBREVIATIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rf"\b{short}\.", re.IGNORECASE), long)
    for short, long in (
        ("mrs", "misess"), ("mr", "mister"), ("dr", "doctor"), ("st", "saint"), ("co", "company"),
        ("jr", "junior"), ("maj", "major"), ("gen", "general"), ("drs", "doctors"), ("rev", "reverend"),
        ("lt", "lieutenant"), ("hon", "honorable"), ("sgt", "sergeant"), ("capt", "captain"),
        ("esq", "esquire"), ("ltd", "limited"), ("col", "colonel"), ("ft", "fort"),
    )
)
_WHITESPACE = re.compile(r"\s+")
# An ARPAbet block ({…} or [[ … ]]) or a lone brace (an error).
_BLOCK = re.compile(r"\{([^{}]*)\}|\[\[(.*?)\]\]|([{}])", re.DOTALL)
_BRACES = re.compile(r"(\{[^{}]*\}|[{}])")
_LEADING_PAUSE = " \t\n\r\f\v,;:"


def to_ascii(text: str) -> str:
    """``text`` in ASCII as Tacotron2 reads it: letters, digits and punctuation without their accents
    (NFKD: ``é`` -> e, ``ﬁ`` -> fi, ``…`` -> ...), a few spelled out (``ß`` -> ss, ``æ`` -> ae, ``ü`` ->
    ue, ``’`` -> '), Unicode spaces made spaces, invisible format characters (soft hyphen, zero-width
    space) removed. A character with no ASCII form (other scripts, symbols such as ``™``) is kept as it
    is (the tokenizer then drops and logs it)."""
    if text.isascii():
        return text
    return "".join(_char_to_ascii(char) if char >= "\x80" else char for char in text)


@functools.lru_cache(maxsize=4096)
def _char_to_ascii(char: str) -> str:
    form = _ASCII_FORMS.get(char)
    if form is not None:
        return form
    category = unicodedata.category(char)
    if category == "Cf":
        return ""
    if category.startswith("Z"):
        return " "
    if category[0] not in "LNP":
        return char  # symbols (™ © °) have no spoken ASCII form here
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return base if base.isascii() and base.strip() else char


def english_cleaners(text: str) -> str:
    """DLE's ``english_cleaners`` without its number expansion: ASCII, lower case, abbreviations,
    whitespace runs made one space."""
    text = to_ascii(text).lower()
    for pattern, spoken in _ABBREVIATIONS:
        text = pattern.sub(spoken, text)
    return _WHITESPACE.sub(" ", text)


class DleTokenizer:
    """Text to the ids of DLE's Tacotron2 (``text_to_sequence(text, ["english_cleaners"])``).

    Thread-safe; stateless but for the set of characters already logged. Also what
    :class:`~sonorant.text.pipeline.TextPipeline` takes as a ``tokenizer`` (see
    :func:`tacotron2_pipeline`).
    """

    def __init__(self) -> None:
        """The tokenizer for DLE's fixed 148-symbol table."""
        self.tokens: tuple[str, ...] = SYMBOLS
        """Id -> symbol."""
        self.separator = "|"
        """What to put between symbols when writing them out (for traces)."""
        self._ids = {symbol: index for index, symbol in enumerate(SYMBOLS)}
        self._arpabet = frozenset(ARPABET)
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    @property
    def vocab_size(self) -> int:
        """Number of ids (the model's embedding rows): 148."""
        return len(self.tokens)

    @property
    def pad_id(self) -> int:
        """Id of the padding symbol ``_``."""
        return self._ids[PAD]

    def encode(self, text: str) -> list[int]:
        """The ids of ``text``: DLE's ``text_to_sequence(text, ["english_cleaners"])`` for text without
        digits (see the module notes). Raises :class:`~sonorant.errors.TextError` for bad ARPAbet."""
        return self.symbol_ids(self.symbols(text))

    def symbols(self, text: str) -> list[str]:
        """The symbols ``text`` is read as: characters of the cleaned text and ``@`` ARPAbet symbols."""
        if not isinstance(text, str):
            raise TextError(f"text must be a string, got {type(text).__name__}")
        out: list[str] = []
        start = 0
        for match in _BLOCK.finditer(text):
            out.extend(self._text_symbols(text[start : match.start()]))
            braced, bracketed, lone = match.groups()
            if lone is not None:
                raise TextError(
                    f"unbalanced {lone!r} at {match.start()} in {_excerpt(text, match.start())}: "
                    "ARPAbet goes in a pair of curly braces, {HH AH0 L OW1}"
                )
            out.extend(self._arpabet_symbols(match.group(0), braced if braced is not None else bracketed))
            start = match.end()
        out.extend(self._text_symbols(text[start:]))
        return out

    def symbol_ids(self, symbols: Iterable[str]) -> list[int]:
        """Ids of a run of symbols (all of :meth:`symbols`, or a piece of them)."""
        ids = self._ids
        try:
            return [ids[s] for s in symbols]
        except KeyError as error:
            raise TextError(f"{error.args[0]!r} is not a Tacotron2 symbol") from None

    def max_symbols(self, max_ids: int) -> int:
        """The most symbols whose ids fit ``max_ids`` (one id per symbol, nothing added)."""
        return max_ids

    def _text_symbols(self, text: str) -> list[str]:
        if not text:
            return []
        ids = self._ids
        kept: list[str] = []
        for char in english_cleaners(text):
            if char in ids and char != PAD:
                kept.append(char)
            else:
                self._warn(char)
        return kept

    def _arpabet_symbols(self, block: str, content: str) -> list[str]:
        names = content.split()
        if not names:
            raise TextError(f"empty ARPAbet block {block!r}: write CMUdict symbols in it, {{HH AH0 L OW1}}")
        for name in names:
            if name not in self._arpabet:
                hint = f" (upper case: {name.upper()})" if name.upper() in self._arpabet else ""
                raise TextError(
                    f"unknown ARPAbet symbol {name!r} in {block!r}{hint}: a Tacotron2 voice reads {{…}}, [[ … ]] "
                    f"and SSML <phoneme> as CMUdict ARPAbet ({', '.join(ARPABET[:4])} … {ARPABET[-1]}; vowels bare "
                    "or with stress 0, 1, 2)"
                )
        return [f"@{name}" for name in names]

    def _warn(self, char: str) -> None:
        with self._lock:
            if char in self._warned:
                return
            self._warned.add(char)
        if char.isdigit():
            why = "numbers are spelled out by sonorant's normalizer (normalize=True), not by this tokenizer " \
                  "(DLE's would spell it out)"
        elif char == PAD:
            why = "it is Tacotron2's padding symbol (DLE means to drop it too)"
        else:
            why = "Tacotron2 has no symbol for it (DLE drops it too)"
        _LOGGER.warning("%r is not read: %s", char, why)


def keep_arpabet(normalizer: Callable[[str], str]) -> Callable[[str], str]:
    """``normalizer`` applied around ``{…}`` ARPAbet blocks, which pass through unchanged (as the text
    pipeline passes ``[[ … ]]`` blocks), and lone braces, left for the tokenizer to report."""

    def normalize(text: str) -> str:
        parts = _BRACES.split(text)
        for index, part in enumerate(parts):
            body = part.lstrip(_LEADING_PAUSE).rstrip()
            if index % 2 == 0 and any(c.isalnum() for c in body):
                # the pause a piece after a block starts with (", and …") is kept, as the pipeline does
                lead = part[: len(part) - len(part.lstrip(_LEADING_PAUSE))]
                parts[index] = lead + normalizer(body) + part[len(lead) + len(body) :]
        return "".join(parts)

    return normalize


def tacotron2_pipeline(
    normalize: bool = True, max_ids: int = 400, tokenizer: DleTokenizer | None = None
) -> TextPipeline:
    """The text pipeline of a DLE Tacotron2 voice: sonorant's English normalizer (``normalize``; ARPAbet
    blocks kept), then :class:`DleTokenizer`; ``max_ids`` caps one piece of a sentence."""
    from sonorant.text.normalizer import identity, normalize_marked
    from sonorant.text.pipeline import TextPipeline

    normalizer = keep_arpabet(functools.partial(normalize_marked, lang="en")) if normalize else identity
    return TextPipeline.for_tokenizer(tokenizer or DleTokenizer(), normalizer=normalizer, max_ids=max_ids, lang="en")


def _excerpt(text: str, at: int, width: int = 20) -> str:
    return repr(text[max(0, at - width) : at + width])
