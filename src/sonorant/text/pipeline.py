"""The text front end: text or SSML in, one :class:`SentencePlan` (model ids) per sentence out.

:meth:`TextPipeline.plan` reads SSML when the text is an SSML document (:func:`~sonorant.text.ssml.is_ssml`),
else plain text; splits it into sentences (:func:`~sonorant.text.split.sentence_spans`), normalizes
each sentence (numbers, abbreviations; never inside ``[[ phonemes ]]``), phonemizes it with espeak-ng,
cuts sentences whose ids would not fit ``max_ids`` at clause or word boundaries
(:func:`~sonorant.text.split.split_long`) and maps phonemes to ids. Nothing is dropped and nothing
is truncated: every word of the input is in some plan.

A sentence of the splitter is one plan even where espeak would end a sentence inside it ("Dr." or
"U.S."): espeak's sentences within it are joined with a space.

Letters to be read by name (initialisms, ``<say-as interpret-as="characters">``, spaced letters),
which the normalizer marks as letter groups (:mod:`sonorant.text.letters`), are spoken with the
phonemes espeak gives each letter read on its own, so none is lost or read as a word.

A voice with its own front end (NeMo's tokenizers, :mod:`sonorant.text.nemo`) passes a
:class:`Tokenizer` instead of espeak and a ``phoneme_id_map`` (:meth:`TextPipeline.for_tokenizer`):
SSML, sentences, normalization, pauses and cutting work as for espeak voices; each sentence's
normalized text (letter groups as plain spaced letters) goes to :meth:`Tokenizer.symbols`, long
ones are cut on those symbols, and :meth:`Tokenizer.symbol_ids` gives each piece's ids.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from sonorant.errors import ConfigError, TextError, VoiceError
from sonorant.text import letters
from sonorant.text.ids import BOS, EOS, PAD, phonemes_to_ids
from sonorant.text.phonemize import EspeakPhonemizer, merge_vowel_clusters
from sonorant.text.split import sentence_spans, split_long
from sonorant.text.ssml import Segment, SSMLError, is_ssml, parse_ssml

__all__ = ["SentencePlan", "TextPipeline", "Tokenizer"]

_LOGGER = logging.getLogger(__name__)

_PHONEME_BLOCK = re.compile(r"(\[\[.*?\]\])")
_NO_SPACE_BEFORE = frozenset(".,;:!?)]}")
_LEADING_PAUSE = " \t\n\r\f\v,;:"
_PROBES = {"A": "E", "a": "e", "I": "E", "i": "e"}  # letters read after a text in its place (see _phonemize_text)
_UNSTRESSED = str.maketrans("", "", "ˈˌʲ")
_STRESS = {"'": "ˈ", ",": "ˌ"}
# Words whose espeak mnemonics and IPA, aligned phoneme by phoneme, give the table that turns
# <phoneme alphabet="espeak"> into IPA (English covers the mnemonics most voices share).
_MNEMONIC_CORPUS = (
    "hello world the thing is measured azure church judge ring yes sing bath father pool put "
    "about bird near square cure thought north lot cloth palm start nurse letter comma happy "
    "boy mouth goat price face fleece kit dress trap strut foot choice goose vision yellow "
    "button little water better gonna button uh-oh butter ladder hurry carry horse force poor "
    "tour fire hour player lawyer ahead behind zoo van thin then shoe she cheap jeep king go "
    "leisure television"
)


@dataclass(frozen=True)
class SentencePlan:
    """One model input: a sentence (or a piece of a long one) with its ids and how to voice it."""

    text: str
    """The sentence as written in the input (the whole sentence for every piece of a long one)."""

    normalized: str
    """The text handed to the phonemizer (normalized; ``[[ ]]`` blocks as given; letters read by name
    spaced, "F B I")."""

    phonemes: list[str]
    """Phonemes of this plan, as :meth:`EspeakPhonemizer.phonemize` gives them (a voice with a
    :class:`Tokenizer`: its symbols)."""

    ids: list[int]
    """Model ids: ``^ _ p1 _ … pn _ $`` (a voice with a :class:`Tokenizer`: its ids); never more than
    the pipeline's ``max_ids``."""

    pause_after: float = 0.0
    """Seconds of silence after this plan (from SSML ``<break>``)."""

    length_scale: float = 1.0
    """Length-scale multiplier for this plan (from SSML ``<prosody rate>``)."""

    sentence_index: int = 0
    """Index of the sentence this plan belongs to (pieces of one long sentence share it)."""

    piece_index: int = 0
    """Index of this piece within its sentence (0 unless the sentence was too long for one plan)."""


class Tokenizer(Protocol):
    """A voice's own text-to-ids front end, used in place of espeak-ng and a ``phoneme_id_map``
    (:class:`sonorant.text.nemo.NemoTokenizer` is one)."""

    separator: str
    """What to put between symbols when writing them out (:meth:`TextPipeline.analyze`)."""

    def symbols(self, text: str) -> list[str]:
        """The symbols of one sentence's normalized text (``" "`` between words, clause punctuation
        as itself, so that :func:`~sonorant.text.split.split_long` can cut them)."""
        ...

    def symbol_ids(self, symbols: Sequence[str]) -> list[int]:
        """The model ids of a run of symbols (a sentence's, or a piece of them)."""
        ...

    def max_symbols(self, max_ids: int) -> int:
        """The most symbols whose ids fit ``max_ids``."""
        ...


@dataclass
class _Piece:
    """Part of a sentence: as written, and as the phonemizer will read it."""

    source: str
    spoken: str
    normalize: bool


@dataclass
class _Unit:
    """A sentence under construction: pieces spoken at one rate, then a pause."""

    rate: float
    pieces: list[_Piece] = field(default_factory=list)
    pause_after: float = 0.0


class TextPipeline:
    """Turns text or SSML into :class:`SentencePlan`\\ s for one voice (thread-safe)."""

    def __init__(
        self,
        phonemizer: EspeakPhonemizer | None,
        espeak_voice: str,
        phoneme_id_map: Mapping[str, Sequence[int]],
        vowel_clusters: Iterable[Sequence[str]] | None = None,
        normalizer: Callable[[str], str] | None = None,
        max_ids: int = 400,
        lang: str = "en",
        tokenizer: Tokenizer | None = None,
    ) -> None:
        """A pipeline for a voice.

        ``phonemizer``: espeak-ng (None: the voice reads Unicode codepoints, Piper's "text" type);
        ``normalizer``: text normalization (default :func:`sonorant.text.normalize` for
        ``lang``); ``max_ids``: the most ids one plan may hold (the model's longest input);
        ``tokenizer``: the voice's own front end, in place of ``phonemizer`` and
        ``phoneme_id_map`` (see :meth:`for_tokenizer`).
        """
        if isinstance(max_ids, bool) or not isinstance(max_ids, int):
            raise ConfigError(f"max_ids must be an integer, got {max_ids!r}")
        if tokenizer is not None and phonemizer is not None:
            raise ConfigError("a pipeline takes either an espeak phonemizer or a tokenizer, not both")
        missing = [s for s in (BOS, PAD, EOS) if s not in phoneme_id_map]
        if missing and tokenizer is None:
            raise VoiceError(f"the voice's phoneme_id_map lacks {', '.join(missing)}")
        self.tokenizer = tokenizer
        self.phonemizer = phonemizer
        self.espeak_voice = espeak_voice
        self.phoneme_id_map = phoneme_id_map
        self.vowel_clusters = {tuple(c) for c in vowel_clusters} if vowel_clusters else None
        self.max_ids = max_ids
        self.lang = lang
        self._normalizer = normalizer
        self._lock = threading.Lock()
        self._mnemonics: dict[str, str] | None = None
        self._letters: dict[str, str | None] = {}
        # split_long counts 2 ids a phoneme and 3 around them; voices with longer id lists get a
        # proportionally smaller limit so that every plan's ids still fit max_ids.
        if tokenizer is not None:
            fits = tokenizer.max_symbols(max_ids)
        else:
            widest = max((len(ids) for ids in phoneme_id_map.values()), default=1)
            pad, ends = len(phoneme_id_map[PAD]), len(phoneme_id_map[BOS]) + len(phoneme_id_map[EOS])
            fits = (max_ids - ends - pad) // (widest + pad)
        if fits < 1:
            raise ConfigError(f"max_ids={max_ids} cannot hold a single phoneme")
        self._split_len = 2 * fits + 3

    @classmethod
    def for_tokenizer(
        cls,
        tokenizer: Tokenizer,
        normalizer: Callable[[str], str] | None = None,
        max_ids: int = 400,
        lang: str = "en",
    ) -> TextPipeline:
        """A pipeline for a voice that turns text into ids itself (a NeMo model's tokenizer)."""
        return cls(None, "", {}, normalizer=normalizer, max_ids=max_ids, lang=lang, tokenizer=tokenizer)

    @property
    def normalizer(self) -> Callable[[str], str]:
        """The normalizer in use (loaded on first use)."""
        with self._lock:
            if self._normalizer is None:
                self._normalizer = _default_normalizer(self.lang)
            return self._normalizer

    def plan(self, text: str) -> list[SentencePlan]:
        """The plans for ``text`` (plain or SSML), in order; raises :class:`TextError` (or :class:`SSMLError`)."""
        return list(self.iter_plans(text))

    def iter_plans(self, text: str) -> Iterator[SentencePlan]:
        """The plans of :meth:`plan`, each produced when asked for, so a streaming caller can start
        speaking the first sentence before the rest is phonemized. Input errors are raised before the
        first plan; a text with nothing to speak raises :class:`TextError`."""
        if not isinstance(text, str):
            raise TextError(f"text must be a string, got {type(text).__name__}")
        if not text.strip():
            raise TextError("text is empty: give at least one word to speak")
        if letters.has_marks(text):
            _LOGGER.info("the Unicode noncharacters U+FDD0/U+FDD1 in the text are read as spaces")
            text = letters.strip_marks(text)
        segments = parse_ssml(text, self.lang) if is_ssml(text) else [Segment(text=text)]
        return self._iter_units(self._units(segments), text)

    def _iter_units(self, units: Sequence[_Unit], text: str) -> Iterator[SentencePlan]:
        # The last plan is held back until the next sentence with speech is planned: a following
        # sentence with nothing to speak still adds its pause to it.
        held: SentencePlan | None = None
        sentence_index = 0
        for unit in units:
            unit_plans = self._plan_unit(unit, sentence_index)
            if unit_plans:
                if held is not None:
                    yield held
                yield from unit_plans[:-1]
                held = unit_plans[-1]
                sentence_index += 1
            elif held is not None and unit.pause_after:
                held = replace(held, pause_after=held.pause_after + unit.pause_after)
        if held is None:
            raise TextError(f"nothing to speak in {text[:60]!r}")
        yield held

    def analyze(self, text: str) -> str:
        """A readable trace of :meth:`plan`: per plan, its text, normalized text, phonemes and ids."""
        lines: list[str] = []
        for number, plan in enumerate(self.plan(text), 1):
            piece = f" (piece {plan.piece_index + 1})" if plan.piece_index else ""
            lines.append(f"[{number}] sentence {plan.sentence_index + 1}{piece}: {plan.text}")
            lines.append(f"    normalized: {plan.normalized}")
            separator = self.tokenizer.separator if self.tokenizer is not None else ""
            lines.append(f"    phonemes:   {separator.join(plan.phonemes)}")
            lines.append(f"    ids ({len(plan.ids)}): {' '.join(map(str, plan.ids))}")
            extras = []
            if plan.length_scale != 1.0:
                extras.append(f"length scale x{plan.length_scale:g}")
            if plan.pause_after:
                extras.append(f"pause {plan.pause_after:g} s")
            if extras:
                lines.append(f"    {', '.join(extras)}")
        return "\n".join(lines)

    # --- sentences ----------------------------------------------------------------------------

    def _units(self, segments: Sequence[Segment]) -> list[_Unit]:
        """Sentences of the segments: a new one at each sentence boundary, rate change and break."""
        units: list[_Unit] = []
        current: _Unit | None = None
        for segment in segments:
            if not segment.text and segment.phonemes is None:
                if units:
                    units[-1].pause_after += segment.break_after
                else:
                    _LOGGER.debug("a pause of %g s before any speech is not kept", segment.break_after)
                continue
            written = segment.source or segment.text
            if (
                current is None or segment.new_sentence or segment.rate != current.rate
                or _sentence_ends_between(current.pieces[-1].source, written)
            ):
                current = _Unit(segment.rate)
                units.append(current)
            if segment.phonemes is not None:
                ipa = segment.phonemes if segment.alphabet == "ipa" else self._espeak_to_ipa(segment.phonemes)
                current.pieces.append(_Piece(written or f"[[ {ipa} ]]", f"[[ {ipa} ]]", False))
            elif segment.spell or segment.source:  # say-as / sub replacement text: one piece, never split
                current.pieces.append(_Piece(written, segment.text, not segment.spell))
            else:
                for index, (start, end) in enumerate(sentence_spans(segment.text)):
                    if index:
                        current = _Unit(segment.rate)
                        units.append(current)
                    current.pieces.append(_Piece(segment.text[start:end], segment.text[start:end], True))
            if segment.break_after:
                current.pause_after += segment.break_after
                current = None
        return units

    def _plan_unit(self, unit: _Unit, sentence_index: int) -> list[SentencePlan]:
        source = _join(p.source for p in unit.pieces)
        normalized = _join(self._normalize(p.spoken) if p.normalize else p.spoken for p in unit.pieces)
        if not normalized:
            return []
        phonemes = self._phonemize(normalized)
        normalized = letters.plain(normalized)
        if not any(p.strip() for p in phonemes):
            _LOGGER.debug("nothing to speak in %r", source)
            return []
        pieces = split_long(phonemes, self._split_len)
        plans = []
        for index, piece in enumerate(pieces):
            if self.tokenizer is not None:
                ids = self.tokenizer.symbol_ids(piece)
            else:
                ids = phonemes_to_ids(piece, self.phoneme_id_map)
            last = index == len(pieces) - 1
            plans.append(SentencePlan(source, normalized, piece, ids, unit.pause_after if last else 0.0,
                                      unit.rate, sentence_index, index))
        return plans

    def _normalize(self, text: str) -> str:
        """``text`` normalized outside its ``[[ phonemes ]]`` blocks (whitespace at their edges kept)."""
        parts = _PHONEME_BLOCK.split(text)
        normalize = self.normalizer
        for index, part in enumerate(parts):
            if index % 2 == 0 and part.strip():
                # a piece that continues a sentence keeps the pause it starts with (", and …")
                lead = part[: len(part) - len(part.lstrip(_LEADING_PAUSE))]
                trail = part[len(part.rstrip()) :]
                body = part[len(lead) : len(part) - len(trail)]
                parts[index] = lead + (normalize(body) if body else "") + trail
        return "".join(parts)

    def _phonemize(self, text: str) -> list[str]:
        """Phonemes of one sentence; espeak's sentences within it joined by a space; letter groups
        spoken letter by letter, each letter as espeak reads it alone (:mod:`sonorant.text.letters`);
        a voice's own tokenizer reads the letters as plain text."""
        if self.tokenizer is not None:
            return self.tokenizer.symbols(letters.plain(text))
        if self.phonemizer is None:
            return list(unicodedata.normalize("NFD", letters.plain(text)))
        if not letters.has_marks(text):
            return self._phonemize_text(text)
        out: list[str] = []
        for before, run in letters.split_runs(text, lambda letter: self._letter_phonemes(letter) is not None):
            if before.strip():
                if out and out[-1] != " " and before[0].isspace():
                    out.append(" ")
                out.extend(self._phonemize_text(before, run.words[0][0] if run is not None else None))
            if run is None:
                continue
            if out and out[-1] != " " and before[-1:].isspace():
                out.append(" ")
            spoken = [letters.word_phonemes([self._letter_phonemes(c) or c for c in word]) for word in run.words]
            phonemes = list(unicodedata.normalize("NFD", " ".join(spoken))) + list(run.punct)
            out.extend(merge_vowel_clusters(phonemes, self.vowel_clusters) if self.vowel_clusters else phonemes)
            if run.punct in (",", ";", ":"):
                out.append(" ")  # as the phonemizer writes these clause ends
        while out and out[-1] == " ":
            out.pop()
        return out

    def _phonemize_text(self, text: str, next_letter: str | None = None) -> list[str]:
        """Phonemes of ``text``, espeak's sentences joined by a space.

        ``next_letter``: the first letter of a letter run that follows ``text``. espeak reads the end of
        a text as the end of a clause, which changes its last word ("a" becomes "ˈeɪ"), and "the" before
        a vowel is "ðɪ"; so a letter is read along (A and I, which espeak reads as words, stand in as E)
        and its word dropped again, when that last word is indeed the letter's name.
        """
        if next_letter is not None and text[-1:].isspace() and text.rstrip()[-1:].isalnum():
            probe = _PROBES.get(next_letter, next_letter)
            name = self._letter_phonemes(probe)
            along = self._espeak_words(f"{text.rstrip()} {probe}")
            while along and along[-1] == " ":
                along.pop()
            if name is not None and " " in along:
                cut = len(along) - 1 - along[::-1].index(" ")
                if "".join(along[cut + 1 :]).translate(_UNSTRESSED) == name.translate(_UNSTRESSED):
                    return along[:cut]
        return self._espeak_words(text)

    def _espeak_words(self, text: str) -> list[str]:
        assert self.phonemizer is not None
        joined: list[str] = []
        for sentence in self.phonemizer.phonemize(text, self.espeak_voice, self.vowel_clusters):
            if joined and sentence and joined[-1] != " " and sentence[0] != " ":
                joined.append(" ")
            joined.extend(sentence)
        return joined

    def _letter_phonemes(self, letter: str) -> str | None:
        """The phonemes espeak gives ``letter`` read on its own (its name), or None if it has none."""
        with self._lock:
            if letter in self._letters:
                return self._letters[letter]
        assert self.phonemizer is not None
        sentences = self.phonemizer.phonemize(letter, self.espeak_voice)
        name = " ".join("".join(s).strip() for s in sentences if "".join(s).strip())
        spoken = name if any(c.isalpha() for c in name) else None
        if spoken is None:
            _LOGGER.debug("espeak has no name for the letter %r; it is read in its text", letter)
        with self._lock:
            self._letters[letter] = spoken
        return spoken

    # --- <phoneme alphabet="espeak"> -------------------------------------------------------------

    def _espeak_to_ipa(self, mnemonics: str) -> str:
        """espeak phoneme mnemonics ("h@l'oU") as IPA ("həlˈoʊ"); :class:`SSMLError` for unknown ones."""
        with self._lock:
            if self._mnemonics is None:
                self._mnemonics = _mnemonic_table(self.phonemizer, self.espeak_voice)
            table = self._mnemonics
        longest = max(map(len, table), default=1)
        out: list[str] = []
        index = 0
        while index < len(mnemonics):
            char = mnemonics[index]
            if char.isspace() or char in _STRESS:
                out.append(" " if char.isspace() else _STRESS[char])
                index += 1
                continue
            for size in range(min(longest, len(mnemonics) - index), 0, -1):
                name = mnemonics[index : index + size]
                if name in table:
                    out.append(table[name])
                    index += size
                    break
            else:
                raise SSMLError(f"unknown espeak phoneme {char!r} in {mnemonics!r}; give the phonemes in IPA instead")
        return unicodedata.normalize("NFD", "".join(out))


def _default_normalizer(lang: str) -> Callable[[str], str]:
    """:func:`sonorant.text.normalize` for ``lang``, or no normalization if it is missing."""
    try:
        from sonorant.text.lang import resolve
        from sonorant.text.normalizer import normalize_marked
    except ImportError:
        _LOGGER.warning("sonorant.text.normalizer is not available: text is phonemized without normalization")
        return _identity
    try:
        code = resolve(lang)
    except TextError:
        _LOGGER.info("no text normalizer for language %r: text is phonemized as written", lang)
        return _identity
    return functools.partial(normalize_marked, lang=code)


def _sentence_ends_between(before: str, after: str) -> bool:
    """Whether a sentence ends between two adjacent pieces of text (as the splitter would decide)."""
    before, after = before.rstrip()[-200:], after.lstrip()[:200]
    if not before or not after:
        return False
    return any(start == len(before) + 1 for start, _ in sentence_spans(f"{before} {after}"))


def _join(parts: Iterable[str]) -> str:
    """Non-blank ``parts``, stripped, joined by spaces (none before closing punctuation)."""
    out = ""
    for part in parts:
        part = part.strip()
        if part:
            out = f"{out} {part}" if out and part[0] not in _NO_SPACE_BEFORE else out + part
    return out


def _identity(text: str) -> str:
    return text


def _mnemonic_table(phonemizer: EspeakPhonemizer | None, voice: str) -> dict[str, str]:
    """espeak mnemonic -> IPA for ``voice``, from espeak's two phoneme-aligned readings of a corpus."""
    if phonemizer is None:
        raise SSMLError('<phoneme alphabet="espeak"> needs an espeak voice')
    from sonorant.text.espeak import PHONEME_SEPARATOR

    separator = PHONEME_SEPARATOR
    table: dict[str, str] = {}
    for ipa_clause, name_clause in phonemizer.espeak.aligned_readings(_MNEMONIC_CORPUS, voice):
        for ipa_word, name_word in zip(ipa_clause.split(" "), name_clause.split(" ")):
            slots, mnemonics = ipa_word.split(separator), name_word.split(separator)
            if len(slots) != len(mnemonics):
                continue
            for slot, name in zip(slots, mnemonics):
                name = "".join(c for c in name if c not in _STRESS)
                slot = "".join(c for c in slot if c not in "ˈˌ")
                if name and slot:
                    table.setdefault(name, slot)
    return table
