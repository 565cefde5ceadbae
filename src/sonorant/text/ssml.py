"""A safe subset of SSML 1.1, parsed into flat :class:`Segment`\\ s for the text pipeline.

Supported: ``<speak>``, ``<p>``, ``<s>``, ``<break time|strength>``, ``<prosody rate>`` (nested
rates multiply), ``<say-as interpret-as>`` (characters, spell-out, digits, cardinal, ordinal,
date, time, telephone), ``<sub alias>``, ``<phoneme alphabet ph>`` (IPA, or espeak mnemonics),
``<emphasis>`` and ``<audio>`` (content spoken), ``<mark>`` (ignored). Unknown elements are logged
as warnings and their content is spoken.

The document is read with expat directly: a DOCTYPE (and with it every entity declaration, the
root of billion-laughs and external-entity attacks) is refused, so only the five predefined
entities and character references decode. Malformed documents and bad attribute values raise
:class:`SSMLError`, whose message gives the line and column.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Optional, Union
from xml.parsers import expat

from sonorant.errors import TextError

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
_DATE_FORMATS = ("mdy", "dmy", "ymd", "ydm", "md", "dm", "ym", "my", "y", "m", "d")
_SPOKEN = frozenset({"speak", "emphasis", "audio"})  # elements whose content is simply spoken
_IGNORED = frozenset({"mark", "desc", "meta", "metadata", "lexicon"})  # elements never spoken

_DIGITS_EN = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# espeak reads a lone "A" as the article and "I" as the pronoun; these spellings give the letter names.
_LETTERS_EN = {"A": "eigh", "I": "eye"}
_SYMBOLS_EN = {
    ".": "dot", "-": "dash", "_": "underscore", "@": "at", "/": "slash", "\\": "backslash", "&": "and",
    "+": "plus", "#": "hash", "*": "star", "%": "percent", "=": "equals", ":": "colon", ",": "comma",
}
_MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)


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
        """All text inside the element."""
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

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
    walker.walk(root, 1.0)
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


class _Walker:
    """Walks the element tree and emits segments."""

    def __init__(self, english: bool) -> None:
        self.english = english
        self.segments: list[Segment] = []
        self.pending_sentence = False
        self.leading_break = 0.0

    def walk(self, element: _Element, rate: float) -> None:
        """Emit the content of ``element`` spoken at length-scale ``rate``."""
        tag = element.tag
        if tag in ("p", "s"):
            self.pending_sentence = True
            self.children(element, rate)
            self.pending_sentence = True
        elif tag == "break":
            self.add_break(_break_seconds(element))
        elif tag == "prosody":
            self.children(element, _prosody_rate(element, rate))
        elif tag == "say-as":
            self.say_as(element, rate)
        elif tag == "sub":
            alias = _required(element, "alias")
            written = _WHITESPACE.sub(" ", element.text()).strip()
            self.emit(Segment(text=alias.strip(), rate=rate, source=written))
        elif tag == "phoneme":
            self.phoneme(element, rate)
        elif tag in _SPOKEN:
            self.children(element, rate)
        elif tag in _IGNORED:
            return
        else:
            _LOGGER.warning("SSML: unsupported element <%s> at line %d, column %d; its content is spoken as text",
                            tag, element.line, element.column)
            self.children(element, rate)

    def children(self, element: _Element, rate: float) -> None:
        for child in element.children:
            if isinstance(child, str):
                self.emit(Segment(text=child, rate=rate))
            elif not (element.tag == "audio" and child.tag == "desc"):
                self.walk(child, rate)

    def emit(self, segment: Segment) -> None:
        """Add a segment, merging plain text into the plain text before it."""
        text = _WHITESPACE.sub(" ", segment.text)
        if segment.phonemes is None and not text.strip():
            if self.segments and not self.pending_sentence and _plain(self.segments[-1], segment.rate):
                last = self.segments[-1]
                if not last.text.endswith(" "):
                    self.segments[-1] = replace(last, text=last.text + " ")
            return
        segment = replace(segment, text=text, new_sentence=self.pending_sentence)
        self.pending_sentence = False
        last = self.segments[-1] if self.segments else None
        mergeable = last is not None and _plain(last, segment.rate) and _plain(segment, segment.rate)
        if last is not None and mergeable and not segment.new_sentence:
            self.segments[-1] = replace(last, text=_WHITESPACE.sub(" ", last.text + text))
        else:
            self.segments.append(segment)

    def add_break(self, seconds: float) -> None:
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
            spoken = _spell(content, self.english)
        elif kind == "digits":
            spoken = _digits(content, self.english)
        elif kind == "telephone":
            spoken = _telephone(content, self.english)
        elif kind == "cardinal":
            spoken = _cardinal(content)
        elif kind == "ordinal":
            spoken = _ordinal(content)
        elif kind == "date":
            spoken = _date(content, _date_format(element, content), self.english)
        elif kind == "time":
            spoken = _time(content, element.attrs.get("format", "").strip().lower())
        else:
            _LOGGER.warning("SSML: say-as interpret-as=%r at line %d is not supported; the content is read as text",
                            kind, element.line)
            spoken = None
        if spoken is None:
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


def _prosody_rate(element: _Element, rate: float) -> float:
    """Length scale inside a ``<prosody>``: the outer one times 1 / this element's speaking rate."""
    for name in ("pitch", "volume", "contour", "range", "duration"):
        if name in element.attrs:
            _LOGGER.warning("SSML: <prosody %s> at line %d is not supported; ignored", name, element.line)
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
        _LOGGER.warning("SSML: nested prosody rates at line %d give a length scale of %g; clamped",
                        element.line, scaled)
        scaled = min(max(scaled, _MIN_SCALE), _MAX_SCALE)
    return scaled


def _digit_word(digit: str, english: bool) -> str:
    return _DIGITS_EN[int(digit)] if english and digit in "0123456789" else digit


def _spell(content: str, english: bool) -> str:
    """Characters one by one: letters as letter names, digits as words."""
    words: list[str] = []
    for char in content:
        if char.isspace():
            continue
        if char.isdigit():
            words.append(_digit_word(char, english))
        elif char.isalpha():
            upper = char.upper()
            words.append(_LETTERS_EN.get(upper, upper) if english else char)
        elif english and char in _SYMBOLS_EN:
            words.append(_SYMBOLS_EN[char])
        else:
            words.append(char)
    return " ".join(words)


def _digits(content: str, english: bool) -> str:
    """Digits one by one as words; other characters spelled, separators kept as pauses."""
    groups = [g for g in re.split(r"[\s\-./()]+", content) if g]
    return ", ".join(_spell(group, english) for group in groups)


def _telephone(content: str, english: bool) -> str:
    """A phone number digit by digit, a short pause between its groups; a leading '+' read as plus."""
    prefix = ""
    if content.startswith("+"):
        prefix, content = ("plus " if english else "+ "), content[1:]
    groups = [g for g in re.split(r"[\s\-./()]+", content) if g]
    return prefix + ", ".join(_spell(group, english) for group in groups)


def _cardinal(content: str) -> Optional[str]:
    """A number with its thousands grouped ("1,234"), so that it is read as a cardinal, not a year."""
    number = content.replace(",", "").replace("_", "").replace(" ", "")
    match = re.fullmatch(r"([+-]?)(\d+)(\.\d+)?", number)
    if match is None:
        _LOGGER.warning("SSML: say-as cardinal %r is not a number; read as text", content)
        return None
    sign, whole, fraction = match.groups()
    return f"{'-' if sign == '-' else ''}{int(whole):,}{fraction or ''}"


def _ordinal_suffix(number: int) -> str:
    if 10 <= number % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")


def _ordinal(content: str) -> Optional[str]:
    number = content.replace(",", "")
    if re.fullmatch(r"\d+(st|nd|rd|th)", number, re.I):
        return number
    if re.fullmatch(r"\d+\.?", number):
        value = int(number.rstrip("."))
        return f"{value}{_ordinal_suffix(value)}"
    _LOGGER.warning("SSML: say-as ordinal %r is not a number; read as text", content)
    return None


def _date_format(element: _Element, content: str) -> str:
    value = element.attrs.get("format")
    if value is None:
        return "ymd" if re.match(r"\d{4}\D", content) else "mdy"
    value = value.strip().lower()
    if value not in _DATE_FORMATS:
        raise element.error(f"format={value!r} is not one of {', '.join(_DATE_FORMATS)}")
    return value


def _month(field: str) -> Optional[int]:
    if field.isdigit():
        return int(field) if 1 <= int(field) <= 12 else None
    name = field.lower().rstrip(".")
    for index, month in enumerate(_MONTHS_EN):
        if len(name) >= 3 and month.lower().startswith(name):
            return index + 1
    return None


def _date(content: str, fmt: str, english: bool) -> Optional[str]:
    """A date as "March 3rd, 2024" (the parts ``fmt`` names, in that order in ``content``)."""
    fields = [f for f in re.split(r"[\s\-/.,]+", content) if f]
    if len(fields) != len(fmt) or not english:
        if english:
            _LOGGER.warning("SSML: say-as date %r does not match format %r; read as text", content, fmt)
        return None
    parts = dict(zip(fmt, fields))
    month = _month(parts["m"]) if "m" in parts else None
    day = int(parts["d"]) if "d" in parts and parts["d"].isdigit() else None
    year = parts.get("y")
    if ("m" in parts and month is None) or ("d" in parts and not (day and 1 <= day <= 31)) or (
        year is not None and not year.isdigit()
    ):
        _LOGGER.warning("SSML: say-as date %r is not a valid %s date; read as text", content, fmt)
        return None
    words = []
    if month is not None:
        words.append(_MONTHS_EN[month - 1])
    if day is not None:
        words.append(f"{day}{_ordinal_suffix(day)}")
    spoken = " ".join(words)
    if year is not None:
        spoken = f"{spoken}, {year}" if spoken and day is not None else f"{spoken} {year}".strip()
    return spoken


def _time(content: str, fmt: str) -> Optional[str]:
    """A clock time as "2:30 PM" ("2 PM" on the hour); kept on the 24-hour clock if ``format="hms24"``."""
    match = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*(?:([ap])\.?\s*m?\.?)?", content.strip(), re.I)
    if match is None:
        _LOGGER.warning("SSML: say-as time %r is not a time like 14:30 or 2:30pm; read as text", content)
        return None
    hour, minute, second = int(match.group(1)), int(match.group(2) or 0), int(match.group(3) or 0)
    if hour > 23 or minute > 59 or second > 59 or (match.group(4) and not 1 <= hour <= 12):
        _LOGGER.warning("SSML: say-as time %r is out of range; read as text", content)
        return None
    if fmt == "hms24" and not match.group(4):
        clock = f"{hour}:{minute:02d}" if minute or second else f"{hour} hundred"
        return clock + (f":{second:02d}" if second else "")
    half = match.group(4).upper() + "M" if match.group(4) else ("AM" if hour < 12 else "PM")
    if not match.group(4):
        hour = hour % 12 or 12
    clock = f"{hour}:{minute:02d}" if minute or second else f"{hour}"
    return f"{clock}{f':{second:02d}' if second else ''} {half}"
