"""A safe subset of SSML 1.1, parsed into flat :class:`Segment`\\ s for the text pipeline.

Supported: ``<speak>``, ``<p>``, ``<s>``, ``<break time|strength>``, ``<prosody rate>`` (nested
rates multiply), ``<say-as interpret-as>`` (characters, spell-out, digits, cardinal, ordinal,
date, time, telephone), ``<sub alias>``, ``<phoneme alphabet ph>`` (IPA, or espeak mnemonics),
``<emphasis>`` and ``<audio>`` (content spoken), ``<mark>`` (ignored). Unknown elements are logged
as warnings and their content is spoken. Elements may nest to any depth: the tree is built and
walked with explicit stacks, never by recursion, so the work grows with the size of the document
and nothing else. Problems that are not errors (an unsupported element or attribute, nested rates
clamped, a say-as that cannot be read) are logged once per kind per document, with a count and the
first place, never once per element.

The document is read with expat directly: a DOCTYPE (and with it every entity declaration, the
root of billion-laughs and external-entity attacks) is refused, so only the five predefined
entities and character references decode. Malformed documents and bad attribute values raise
:class:`SSMLError`, whose message gives the line and column.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Optional, Union
from xml.parsers import expat

from sonorant.errors import TextError
from sonorant.text import ssml_sayas as sayas

__all__ = ["SSMLError", "Segment", "is_ssml", "parse_ssml"]

_LOGGER = logging.getLogger(__name__)

_SSML_START = re.compile(
    r"\ufeff?\s*(?:<\?xml\b.*?\?>\s*)?(?:<!--.*?-->\s*)*(?:<!DOCTYPE\b.*?)?<(?:\w+:)?speak[\s>/]", re.S | re.I
)
_WHITESPACE = re.compile(r"\s+")
_TIME = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s)\s*$", re.I)
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*%\s*$")
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*$")
_BREAK_STRENGTHS = {"none": 0.0, "x-weak": 0.1, "weak": 0.25, "medium": 0.5, "strong": 0.75, "x-strong": 1.0}
_RATES = {"x-slow": 0.5, "slow": 0.75, "medium": 1.0, "default": 1.0, "fast": 1.25, "x-fast": 1.5}
_MIN_RATE, _MAX_RATE = 0.1, 10.0  # speaking-rate factors an attribute may ask for
_MIN_SCALE, _MAX_SCALE = 0.05, 20.0  # nested prosody is clamped to this length-scale range
_MAX_BREAK = 60.0
_ALPHABETS = {"ipa": "ipa", "x-ipa": "ipa", "espeak": "espeak", "x-espeak": "espeak"}
_SPOKEN = frozenset({"speak", "emphasis", "audio"})  # elements whose content is simply spoken
_IGNORED = frozenset({"mark", "desc", "meta", "metadata", "lexicon"})  # elements never spoken
_NOTE_DETAILS = 5  # how many different names one logged problem lists


class SSMLError(TextError):
    """The SSML document is malformed, unsafe, or has a bad attribute value."""

    def __init__(self, message: str, line: Optional[int] = None, column: Optional[int] = None) -> None:
        where = f" (line {line}, column {column})" if line is not None and column is not None else ""
        super().__init__(f"SSML: {message}{where}")
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Segment:
    """A run of SSML content spoken one way."""

    text: str = ""
    """Text to normalize and phonemize; for a ``<phoneme>`` segment, the written form it replaces."""

    phonemes: Optional[str] = None
    """Phonemes to speak instead of ``text`` (in ``alphabet``), or None."""

    alphabet: str = "ipa"
    """Alphabet of ``phonemes``: ``"ipa"`` (passed through) or ``"espeak"`` (espeak mnemonics)."""

    break_after: float = 0.0
    """Seconds of silence after this segment (from ``<break>``)."""

    rate: float = 1.0
    """Length-scale multiplier from ``<prosody rate>``: > 1 is slower ("80%" gives 1.25)."""

    new_sentence: bool = False
    """True when a ``<p>``/``<s>`` boundary precedes this segment."""

    spell: bool = False
    """True when ``text`` is already in spoken form (say-as spelling, digits, telephone): do not normalize."""

    source: str = ""
    """The content as written, where ``text`` replaces it (``<sub>``, ``<say-as>``); else ``""``."""


@dataclass
class _Element:
    """One parsed element with where it started (1-based line and column)."""

    tag: str
    attrs: dict[str, str]
    line: int
    column: int
    children: list[Union["_Element", str]]

    def text(self) -> str:
        """All text inside the element, in document order (an iterative walk: any depth)."""
        out: list[str] = []
        stack: list[Union[_Element, str]] = [self]
        while stack:
            node = stack.pop()
            if isinstance(node, str):
                out.append(node)
            else:
                stack.extend(reversed(node.children))
        return "".join(out)

    def error(self, message: str) -> SSMLError:
        return SSMLError(f"<{self.tag}>: {message}", self.line, self.column)


def is_ssml(text: str) -> bool:
    """Whether ``text`` is an SSML document: ``<speak`` first, after whitespace, an XML declaration, comments."""
    return isinstance(text, str) and _SSML_START.match(text) is not None


def parse_ssml(text: str, lang: str = "en") -> list[Segment]:
    """The segments of an SSML document, in order; raises :class:`SSMLError`.

    ``lang`` chooses how say-as spells letters, digits and dates (English words for ``"en*"``).
    A leading ``<break>`` gives a first segment with no text and only ``break_after``.
    """
    if not isinstance(text, str):
        raise TextError(f"text must be a string, got {type(text).__name__}")
    root = _parse_tree(text)
    if root.tag != "speak":
        raise root.error("the root element of an SSML document must be <speak>")
    walker = _Walker(lang.lower().startswith("en"))
    try:
        walker.walk(root)
    finally:
        walker.notes.log()
    return _finish(walker.segments, walker.leading_break)


def _local(name: str) -> str:
    return name.rsplit(":", 1)[-1] if ":" in name and not name.startswith("xml:") else name


def _parse_tree(text: str) -> _Element:
    """The element tree of ``text``, with DOCTYPEs and entity declarations refused."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[_Element] = []
    roots: list[_Element] = []

    def here() -> tuple[int, int]:
        return parser.CurrentLineNumber, parser.CurrentColumnNumber + 1

    def refuse(what: str) -> None:
        raise SSMLError(f"{what} is not allowed in SSML (no DTDs or entity declarations)", *here())

    def start(name: str, attrs: dict[str, str]) -> None:
        element = _Element(_local(name), {_local(k): v for k, v in attrs.items()}, *here(), [])
        (stack[-1].children if stack else roots).append(element)
        stack.append(element)

    def end(name: str) -> None:
        stack.pop()

    def data(chunk: str) -> None:
        if stack:
            stack[-1].children.append(chunk)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    parser.StartDoctypeDeclHandler = lambda *args: refuse("a DOCTYPE")
    parser.EntityDeclHandler = lambda *args: refuse("an entity declaration")
    parser.ExternalEntityRefHandler = lambda *args: refuse("an external entity")
    try:
        parser.Parse(text, True)
    except expat.ExpatError as error:
        raise SSMLError(f"malformed XML: {expat.ErrorString(error.code)}", error.lineno, error.offset + 1) from error
    return roots[0]


@dataclass
class _Note:
    """One kind of problem in a document: its first occurrence, how often, and what differed."""

    message: str
    line: int
    column: int
    count: int = 0
    details: list[str] = field(default_factory=list)


class _Notes:
    """Problems met in one document, logged at the end as one warning line per kind of problem
    (a document with a thousand unsupported elements logs one line, not a thousand)."""

    def __init__(self) -> None:
        self._notes: dict[str, _Note] = {}

    def add(self, kind: str, message: str, element: _Element, detail: str = "") -> None:
        """Note one occurrence of ``kind``; ``message`` describes the first, ``detail`` names this one."""
        note = self._notes.setdefault(kind, _Note(message, element.line, element.column))
        note.count += 1
        if detail and detail not in note.details and len(note.details) < _NOTE_DETAILS:
            note.details.append(detail)

    def log(self) -> None:
        for note in self._notes.values():
            where = f"line {note.line}, column {note.column}"
            if note.count > 1:
                others = f"; also {', '.join(note.details[1:])}" if len(note.details) > 1 else ""
                where = f"{note.count} times, first at {where}{others}"
            _LOGGER.warning("SSML: %s (%s)", note.message, where)


class _Walker:
    """Walks the element tree, in document order and without recursion, and emits segments."""

    def __init__(self, english: bool) -> None:
        self.english = english
        self.segments: list[Segment] = []
        self.pending_sentence = False
        self.leading_break = 0.0
        self.notes = _Notes()
        self._pending: list[str] = []  # text merged into the last segment, not yet written into it
        self._last_char = ""  # the last character of the last segment's text, pending text included

    def walk(self, root: _Element) -> None:
        """Emit the content of ``root``. The walk keeps its own stack, so any nesting depth is fine."""
        # Each entry: an element or text to speak at a length scale, or None for "a <p>/<s> ends here".
        stack: list[tuple[Union[_Element, str, None], float]] = [(root, 1.0)]
        while stack:
            node, rate = stack.pop()
            if node is None:
                self.pending_sentence = True
            elif isinstance(node, str):
                self.emit(Segment(text=node, rate=rate))
            else:
                inner = self.enter(node, rate)
                if inner is None:
                    continue
                if node.tag in ("p", "s"):
                    stack.append((None, rate))
                for child in reversed(node.children):
                    if not (node.tag == "audio" and isinstance(child, _Element) and child.tag == "desc"):
                        stack.append((child, inner))
        self.flush()

    def enter(self, element: _Element, rate: float) -> Optional[float]:
        """Handle ``element`` itself; the length scale of its content, or None if it is not walked."""
        tag = element.tag
        if tag in ("p", "s"):
            self.pending_sentence = True
            return rate
        if tag == "break":
            self.add_break(_break_seconds(element))
            if any(isinstance(c, _Element) or c.strip() for c in element.children):
                self.notes.add("break-content", "<break> should be empty; its content is spoken after the pause",
                               element)
            return rate
        if tag == "prosody":
            return _prosody_rate(element, rate, self.notes)
        if tag == "say-as":
            self.say_as(element, rate)
        elif tag == "sub":
            alias = _required(element, "alias")
            written = _WHITESPACE.sub(" ", element.text()).strip()
            self.emit(Segment(text=alias.strip(), rate=rate, source=written))
        elif tag == "phoneme":
            self.phoneme(element, rate)
        elif tag in _SPOKEN:
            return rate
        elif tag not in _IGNORED:
            self.notes.add("element", f"unsupported element <{tag}>; its content is spoken as text", element,
                           f"<{tag}>")
            return rate
        return None

    def emit(self, segment: Segment) -> None:
        """Add a segment, merging plain text into the plain text before it."""
        text = _WHITESPACE.sub(" ", segment.text)
        if segment.phonemes is None and not text.strip():
            if self.segments and not self.pending_sentence and _plain(self.segments[-1], segment.rate):
                self._extend(" ")
            return
        segment = replace(segment, text=text, new_sentence=self.pending_sentence)
        self.pending_sentence = False
        last = self.segments[-1] if self.segments else None
        mergeable = last is not None and _plain(last, segment.rate) and _plain(segment, segment.rate)
        if last is not None and mergeable and not segment.new_sentence:
            self._extend(text)
        else:
            self.flush()
            self.segments.append(segment)
            self._last_char = text[-1:]

    def _extend(self, text: str) -> None:
        """Add ``text`` (whitespace collapsed) to the last segment's text; kept in a list until
        :meth:`flush`, so that many merges cost time in proportion to the text, not its square."""
        if self._last_char == " " and text.startswith(" "):
            text = text[1:]
        if text:
            self._pending.append(text)
            self._last_char = text[-1]

    def flush(self) -> None:
        """Write the text added by :meth:`_extend` into the last segment."""
        if self._pending:
            last = self.segments[-1]
            self.segments[-1] = replace(last, text=last.text + "".join(self._pending))
            self._pending.clear()

    def add_break(self, seconds: float) -> None:
        self.flush()
        if self.segments:
            last = self.segments[-1]
            self.segments[-1] = replace(last, break_after=last.break_after + seconds)
        else:
            self.leading_break += seconds

    def phoneme(self, element: _Element, rate: float) -> None:
        ph = _required(element, "ph")
        alphabet_name = element.attrs.get("alphabet", "ipa").strip().lower()
        alphabet = _ALPHABETS.get(alphabet_name)
        if alphabet is None:
            raise element.error(f"alphabet={alphabet_name!r} is not supported (use 'ipa' or 'espeak')")
        ph = _WHITESPACE.sub(" ", ph).strip()
        if not ph or "[[" in ph or "]]" in ph:
            raise element.error(f"ph={ph!r} is not a phoneme string")
        if alphabet == "ipa":
            ph = unicodedata.normalize("NFD", ph)
        self.emit(Segment(text=_WHITESPACE.sub(" ", element.text()).strip(), phonemes=ph, alphabet=alphabet, rate=rate))

    def say_as(self, element: _Element, rate: float) -> None:
        kind = _required(element, "interpret-as").strip().lower()
        content = _WHITESPACE.sub(" ", element.text()).strip()
        if not content:
            return
        spoken: Optional[str]
        spell = kind in ("characters", "spell-out", "letters", "verbatim", "digits", "telephone")
        if kind in ("characters", "spell-out", "letters", "verbatim"):
            spoken = sayas.spell(content, self.english)
        elif kind == "digits":
            spoken = sayas.digits(content, self.english)
        elif kind == "telephone":
            spoken = sayas.telephone(content, self.english)
        elif kind == "cardinal":
            spoken = sayas.cardinal(content)
        elif kind == "ordinal":
            spoken = sayas.ordinal(content)
        elif kind == "date":
            spoken = sayas.date(content, _date_format(element, content), self.english)
        elif kind == "time":
            spoken = sayas.time(content, element.attrs.get("format", "").strip().lower())
        else:
            self.notes.add("say-as", f"say-as interpret-as={kind!r} is not supported; the content is read as text",
                           element, repr(kind))
            spoken, spell = content, False
        if spoken is None:
            self.notes.add(f"say-as {kind}", f"say-as {kind} {content!r} cannot be read as a {kind}; read as text",
                           element, repr(content))
            spoken, spell = content, False
        self.emit(Segment(text=spoken, rate=rate, spell=spell, source=content))


def _plain(segment: Segment, rate: float) -> bool:
    """Whether text may be merged with ``segment``: plain text (no replacement) at ``rate``, no break after it."""
    return (
        segment.phonemes is None and not segment.spell and not segment.source
        and segment.rate == rate and segment.break_after == 0.0
    )


def _finish(segments: list[Segment], leading_break: float) -> list[Segment]:
    """Segments with their text stripped; empty ones dropped, their breaks and boundaries kept."""
    out: list[Segment] = [Segment(break_after=leading_break)] if leading_break > 0 else []
    new_sentence = False
    for segment in segments:
        text = segment.text.strip()
        if not text and segment.phonemes is None:
            if out:
                out[-1] = replace(out[-1], break_after=out[-1].break_after + segment.break_after)
            new_sentence = new_sentence or segment.new_sentence
            continue
        starts = segment.new_sentence or new_sentence
        out.append(replace(segment, text=text, source=segment.source.strip(), new_sentence=starts))
        new_sentence = False
    return out


def _required(element: _Element, name: str) -> str:
    value = element.attrs.get(name)
    if value is None or not value.strip():
        raise element.error(f"the {name!r} attribute is required")
    return value


def _break_seconds(element: _Element) -> float:
    """Seconds of a ``<break>``: ``time`` ("500ms", "1.5s") wins over ``strength``; medium by default."""
    time = element.attrs.get("time")
    if time is not None:
        match = _TIME.match(time)
        if match is None:
            raise element.error(f"time={time!r} is not a duration like '500ms' or '1.5s'")
        seconds = float(match.group(1)) / (1000.0 if match.group(2).lower() == "ms" else 1.0)
        if seconds > _MAX_BREAK:
            raise element.error(f"time={time!r} is longer than {_MAX_BREAK:g} seconds")
        return seconds
    strength = element.attrs.get("strength", "medium").strip().lower()
    if strength not in _BREAK_STRENGTHS:
        raise element.error(f"strength={strength!r} is not one of {', '.join(_BREAK_STRENGTHS)}")
    return _BREAK_STRENGTHS[strength]


def _prosody_rate(element: _Element, rate: float, notes: _Notes) -> float:
    """Length scale inside a ``<prosody>``: the outer one times 1 / this element's speaking rate."""
    for name in ("pitch", "volume", "contour", "range", "duration"):
        if name in element.attrs:
            notes.add("prosody", f"<prosody {name}> is not supported; ignored", element, name)
    value = element.attrs.get("rate")
    if value is None:
        return rate
    label = value.strip().lower()
    if label in _RATES:
        speed = _RATES[label]
    else:
        match = _PERCENT.match(label) or _NUMBER.match(label)
        if match is None:
            raise element.error(
                f"rate={value!r} is not a positive percentage like '80%', a number, or one of {', '.join(_RATES)}"
            )
        speed = float(match.group(1)) / (100.0 if "%" in label else 1.0)
        if not _MIN_RATE <= speed <= _MAX_RATE:
            raise element.error(f"rate={value!r} is outside {_MIN_RATE * 100:g}%..{_MAX_RATE * 100:g}%")
    scaled = rate / speed
    if not _MIN_SCALE <= scaled <= _MAX_SCALE:
        notes.add("prosody-clamp", f"nested prosody rates give a length scale of {scaled:g}; clamped to "
                  f"{_MIN_SCALE:g}..{_MAX_SCALE:g}", element)
        scaled = min(max(scaled, _MIN_SCALE), _MAX_SCALE)
    return scaled


def _date_format(element: _Element, content: str) -> str:
    value = element.attrs.get("format")
    if value is None:
        return "ymd" if re.match(r"\d{4}\D", content) else "mdy"
    value = value.strip().lower()
    if value not in sayas.DATE_FORMATS:
        raise element.error(f"format={value!r} is not one of {', '.join(sayas.DATE_FORMATS)}")
    return value
