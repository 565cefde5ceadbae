"""English (American) text normalization: written text to the words a careful reader would say.

One precompiled master regex (:mod:`sonorant.text.lang.en_patterns`) finds every span that needs
reading (URL, phone number, date, time, money, fraction, ordinal, number with its unit,
abbreviation, initialism, Roman numeral, symbol, dash) in a single left-to-right pass; its
alternatives are tried in priority order at each position and each span is replaced by its
words exactly once, so a replacement is never read again. A final digit catch-all means no
digit survives. Words of the input are never dropped and sentence punctuation (. ? ! , ; :) is
kept, so sentence splitting and espeak still work.

Heuristics worth knowing (the details are in the functions):

- **Years.** A 4-digit integer 1100–2099 (1000–2099 after a year cue) is read as a year
  ("nineteen ninety-nine", "twenty ten", "two thousand one", "nineteen hundred") unless a count
  cue precedes it ("about", "over", "than"…) or a counted plural noun follows it ("1999 people",
  "2048 bytes"); years are also read in dates, decades ("the 1990s") and year ranges.
- **Slashes.** "1/2" and "3/4" are fractions (a denominator of 2–10, 12, 16, 32, 64, 100 or 1000
  with a smaller numerator, or any numerator over 2, 3 or 4); "3/15" with a month and day in
  range is a date (US order); "24/7"-style idioms are names; otherwise "a slash b".
- **Phone numbers** are US 3-3-4 forms ("(555) 123-4567", "555.123.4567", "+1 555 123 4567") or
  "+"-prefixed international ones, read digit by digit with a comma between groups.
- **Dr. / St.**, initialisms and Roman numerals: see :mod:`sonorant.text.lang.en_words`.
- **Letters read by name** (spaced letters, the letter "A", "UA 857"): see
  :mod:`sonorant.text.lang.en_spelling`.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from typing import Optional

from sonorant.text.lang import en_numbers as num
from sonorant.text.lang import en_spelling as spelling
from sonorant.text.lang import en_words as words
from sonorant.text.lang.en_patterns import MASTER, PATTERNS
from sonorant.text.lang.en_data import (
    AFTER_NAME,
    BEFORE_NUMBER,
    COUNT_CUES,
    CURRENCIES,
    DIGIT_CUES,
    FRACTION_IDIOMS,
    GLUED_UNITS,
    IRREGULAR_PLURALS,
    LATIN,
    MONTH_NUMBER,
    NOT_PLURAL_S,
    PHONE_CUES,
    PLAIN_ABBREVIATIONS,
    RANGE_IDIOMS,
    SCALES,
    SYMBOLS,
    TITLES,
    TITLES_BEFORE_NAME,
    UNICODE_FRACTIONS,
    UNITS,
    YEAR_CUES,
)
from sonorant.text.letters import CLOSE, OPEN

__all__ = ["normalize"]

_LOGGER = logging.getLogger(__name__)

_PHONEME_BLOCK = re.compile(r"(\[\[.*?\]\])", re.DOTALL)
_OTHER_DIGIT = re.compile(r"(?![0-9])\d")
_SPACES = re.compile(r"[^\S\n]+")
_SPACE_BEFORE_PUNCT = re.compile(r" +(?=[,.;:!?])")
_DOUBLE_PAUSE = re.compile(r",(?: ?,)+")
_PAUSE_BEFORE_STOP = re.compile(r", ?(?=[.;:!?])")
_LEADING_PAUSE = re.compile(r"^[ ,;:]+", re.MULTILINE)
_TRANSLATE = str.maketrans(
    {
        "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u2007": " ", "\u200b": "",
        "\u2212": "-", "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u00ba": "°",
        "\ufe6a": "%", "\uff05": "%",
    }
)
_TRAILING = ".,;:!?)]}'\"/"
_SOMETHING = re.compile(r"\S")
_WORD = re.compile(r"[A-Za-z]+")
_SEVERAL = re.compile(r"#?\d+\s?(?:[-–,&]|and\b)\s?#?\d")
_FRACTION_DENOMINATORS = frozenset({2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 16, 32, 64, 100, 1000})


# ------------------------------------------------------------------------------------ handlers
Handler = Callable[[re.Match[str]], str]


def _local_phone(m: re.Match[str]) -> str:
    """"555-1234": a phone number after a phone cue ("call", "Tel:"), else a range."""
    token, _ = words.prev_token(m.string, m.start())
    if token.endswith(":") or token.lower() in PHONE_CUES:
        return num.phone(m.group(0))
    return f"{num.integer(m.group('lp_a'))} to {num.integer(m.group('lp_b'))}"


def _digit_cue(text: str, start: int) -> bool:
    """True when one of the two words before ``start`` asks for digits ("ZIP 90210", "PIN is 1234")."""
    before = _WORD.findall(text, max(0, start - 24), start)[-2:]
    return any(word.lower() in DIGIT_CUES for word in before)


def _is_year(text: str, start: int, end: int, value: int) -> bool:
    """Whether a 4-digit integer at text[start:end] is a year (see the module docstring)."""
    if not 1000 <= value <= 2099:
        return False
    before = words.prev_word(text, start).lower()
    if before in COUNT_CUES:
        return False
    after = words.next_word(text, end)
    if after and after.islower() and (
        after in IRREGULAR_PLURALS
        or (after.endswith("s") and not after.endswith(("ss", "us", "is")) and after not in NOT_PLURAL_S)
    ):
        return False
    if before in YEAR_CUES or before.capitalize() in MONTH_NUMBER:
        return True
    return value >= 1100


def _plain_number(text: str, start: int, end: int, written: str) -> str:
    """A bare written number, read as a year when the year heuristic says so."""
    if written.isdigit() and len(written) >= 3 and _digit_cue(text, start):
        return num.digits(written)
    if len(written) == 4 and written.isdigit() and written[0] != "0":
        value = int(written)
        if _is_year(text, start, end, value):
            return num.year(value)
    return num.number(written)


def _attributive(text: str, start: int, end: int) -> bool:
    """Whether an amount qualifies the noun after it ("a 5 kg bag", "a $5 bill": unit in the singular)."""
    if words.prev_word(text, start).lower() not in ("a", "an"):
        return False
    after = words.next_word(text, end)
    return bool(after) and after[0].islower()


def _qty(m: re.Match[str]) -> str:
    text, sign, a, b = m.string, m.group("q_sign"), m.group("q_a"), m.group("q_b")
    unit, glued = m.group("q_unit"), m.group("q_glued")
    names = UNITS.get(unit) if unit else GLUED_UNITS.get(glued) if glued else None
    start = m.start("q_a")
    if b is not None:
        if names is None and len(a) == 4 and a.isdigit() and b.isdigit() and len(b) in (2, 4) and not sign:
            if _is_year(text, start, m.end(), int(a)):
                return f"{num.year(int(a))} to {num.year(int(b))}"
        spoken = RANGE_IDIOMS.get(m.group(0)) or f"{num.number(a)} to {num.number(b)}"
    elif names is None:
        spoken = _plain_number(text, start, m.end(), a) if not sign else num.number(a)
    else:
        spoken = num.number(a)
    if sign:
        spoken = ("plus " if sign == "+" else "minus ") + spoken
    if names is not None:
        singular, plural = names
        one = (b is None and num.is_one(a)) or _attributive(text, m.start(), m.end())
        spoken += " " + (singular if one else plural)
    return spoken


def _scale(written: Optional[str]) -> Optional[str]:
    """The scale word of "k", "bn", "Million"…, or None."""
    if not written:
        return None
    return SCALES[written if len(written) <= 2 else written.lower()]


def _money(m: re.Match[str]) -> str:
    symbol = m.group("c_sym").strip()
    a, b = m.group("c_a"), m.group("c_b")
    scale = _scale(m.group("c_sc"))
    if b is None:
        spoken = num.money(a, symbol, scale, attributive=_attributive(m.string, m.start(), m.end()))
    else:
        scale_b = _scale(m.group("c_sc2")) or scale
        if scale is None and "." not in a:
            spoken = f"{num.integer(a)} to {num.money(b, symbol, scale_b)}"
            if scale_b is None and num.is_one(b):  # "$0-1": "zero to one dollars"
                spoken = spoken.removesuffix(CURRENCIES[symbol][0]) + CURRENCIES[symbol][1]
        else:
            spoken = f"{num.money(a, symbol, scale)} to {num.money(b, symbol, scale_b)}"
    return ("minus " + spoken) if m.group("c_neg") else spoken


def _money_post(m: re.Match[str]) -> str:
    scale = m.group("cp_sc").lower() if m.group("cp_sc") else None
    return num.money(m.group("cp_a"), m.group("cp_sym"), scale)


def _address(m: re.Match[str]) -> str:
    """A URL, e-mail address or domain; punctuation after it (a sentence's dot, a bracket) is kept."""
    written = m.group(0)
    address = written.rstrip(_TRAILING)
    trailing = written[len(address) :].replace("/", "")
    return words.read_url(address) + trailing


def _iso(m: re.Match[str]) -> str:
    mo, d = int(m.group("iso_m")), int(m.group("iso_d"))
    if 1 <= mo <= 12 and 1 <= d <= 31:
        return num.date(mo, d, m.group("iso_y"))
    return ", ".join(num.integer(g) for g in (m.group("iso_y"), m.group("iso_m"), m.group("iso_d")))


def _numdate(m: re.Match[str]) -> str:
    a, b, y = int(m.group("nd_a")), int(m.group("nd_b")), m.group("nd_y")
    if 1 <= a <= 12 and 1 <= b <= 31:
        return num.date(a, b, y)
    if 1 <= b <= 12 and 1 <= a <= 31:
        return num.date(b, a, y, day_first=True)
    sep = {"/": " slash ", ".": " point ", "-": " to "}[m.group("nd_sep")]
    return sep.join(num.integer(g) for g in (m.group("nd_a"), m.group("nd_b"), y))


def _after_dot(m: re.Match[str], group: str, spoken: str) -> str:
    """``spoken`` plus a period when the dot in ``group`` was consumed and also ended the sentence."""
    if m.group(group) and m.group(group).endswith(".") and words.ends_sentence(m.string, m.end(), strict=True):
        return spoken + "."
    return spoken


def _mdate(m: re.Match[str]) -> str:
    month = MONTH_NUMBER[m.group("md_mon")]
    if m.group("md_yonly"):
        return num.date(month, None, m.group("md_yonly"))
    day = int(m.group("md_day"))
    if not 1 <= day <= 31:
        return f"{num.date(month, None, None)} {num.cardinal(day)}" + (
            f", {num.year(int(m.group('md_year')))}" if m.group("md_year") else ""
        )
    return num.date(month, day, m.group("md_year"))


def _dmdate(m: re.Match[str]) -> str:
    month, day = MONTH_NUMBER[m.group("dm_mon")], int(m.group("dm_day"))
    if not 1 <= day <= 31:
        return f"{num.cardinal(day)} {m.group(0)[len(m.group('dm_day')):].strip()}"
    spoken = num.date(month, day, m.group("dm_year"), day_first=True)
    if m.string[max(0, m.start() - 4) : m.start()].lower() == "the ":
        spoken = spoken.removeprefix("the ")
    return _after_dot(m, "dm_dot", spoken) if not m.group("dm_year") else spoken


def _meridiem(m: re.Match[str], group: str) -> tuple[str, bool]:
    written = m.group(group)
    if not written:
        return "", False
    return ("AM" if written[0] in "aA" else "PM"), written.endswith(".")


def _time(m: re.Match[str]) -> str:
    meridiem, dotted = _meridiem(m, "t_ap")
    second = int(m.group("t_s")) if m.group("t_s") else None
    spoken = num.clock(int(m.group("t_h")), int(m.group("t_m")), second, meridiem)
    return spoken + "." if dotted and words.ends_sentence(m.string, m.end()) else spoken


def _hour(m: re.Match[str]) -> str:
    meridiem, dotted = _meridiem(m, "h_ap")
    spoken = num.clock(int(m.group("h_h")), 0, None, meridiem)
    return spoken + "." if dotted and words.ends_sentence(m.string, m.end()) else spoken


def _ufrac(m: re.Match[str]) -> str:
    n, d = UNICODE_FRACTIONS[m.group("uf")]
    whole = m.group("uf_w")
    return num.mixed_fraction(int(whole), n, d) if whole else num.fraction(n, d)


def _decade(m: re.Match[str]) -> str:
    if m.group("dc2"):
        return num.decade(m.group("dc2"))
    written = m.group("dc")
    if written in ("100", "1000"):
        return "hundreds" if written == "100" else "thousands"
    if len(written) == 4:
        return num.decade(written)
    return num.plural_word(num.integer(written))


def _is_fraction(n: int, d: int) -> bool:
    return d in _FRACTION_DENOMINATORS and (n < d or d <= 4) and n > 0


def _slashed(a: str, b: str) -> str:
    """"a/b": an idiom ("24/7"), a fraction, a month/day date, else "a slash b"."""
    idiom = FRACTION_IDIOMS.get(f"{a}/{b}")
    if idiom:
        return idiom
    n, d = int(a), int(b)
    if _is_fraction(n, d) and a[0] != "0":
        return num.fraction(n, d)
    if 1 <= n <= 12 and 1 <= d <= 31:
        return num.date(n, d, None)
    return f"{num.integer(a)} slash {num.integer(b)}"


def _slash(m: re.Match[str]) -> str:
    a, b, c = m.group("sl_a"), m.group("sl_b"), m.group("sl_c")
    if c is None:
        return _slashed(a, b)
    return FRACTION_IDIOMS.get(m.group(0)) or " slash ".join(num.integer(g) for g in (a, b, c))


def _mixed(m: re.Match[str]) -> str:
    w, n, d = int(m.group("mx_w")), int(m.group("mx_n")), int(m.group("mx_d"))
    if n < d and _is_fraction(n, d):
        return num.mixed_fraction(w, n, d)
    return f"{num.integer(m.group('mx_w'))} {_slashed(m.group('mx_n'), m.group('mx_d'))}"


def _dims(m: re.Match[str]) -> str:
    op = " by " if m.group("x_op") == "x" else " times "
    return num.number(m.group("x_a")) + op + num.number(m.group("x_b"))


def _title(m: re.Match[str]) -> str:
    abbreviation = m.group("ti")
    if abbreviation in ("Dr", "St"):
        spoken, after_name = words.street_or_title(abbreviation, m.string, m.start(), m.end())
        return _after_dot(m, "ti_dot", spoken) if after_name else spoken
    return TITLES[abbreviation]


def _dotted_abbr(m: re.Match[str]) -> str:
    abbreviation = m.group("da")
    if abbreviation in TITLES_BEFORE_NAME:
        after = words.next_word(m.string, m.end())
        if not after or not after[0].isupper():
            return m.group(0)
        return TITLES_BEFORE_NAME[abbreviation]
    if abbreviation in TITLES:
        return TITLES[abbreviation]
    spoken = AFTER_NAME[abbreviation]
    return spoken + "." if words.ends_sentence(m.string, m.end(), strict=True) else spoken


def _plain_abbr(m: re.Match[str]) -> str:
    if m.group("vs") or m.group("pa") == "vs":
        return "versus"  # "vs." joins two names; it never ends a sentence
    spoken = PLAIN_ABBREVIATIONS[m.group("pa")]
    return spoken + "." if words.ends_sentence(m.string, m.end()) else spoken


def _latin(m: re.Match[str]) -> str:
    written = m.group(0)
    spoken = LATIN.get(written) or LATIN[written.lower()]
    return spoken + "." if written.endswith(".") and words.ends_sentence(m.string, m.end()) else spoken


def _before_num(m: re.Match[str]) -> str:
    singular, plural = BEFORE_NUMBER[m.group("bn")]
    many = _SEVERAL.match(m.string, m.end()) is not None
    return (plural if many else singular) + " "


def _lone(m: re.Match[str]) -> str:
    return words.roman(m.group("lr"), m.string, m.start(), m.end()) or m.group("lr")


def _ellipsis(m: re.Match[str]) -> str:
    if _SOMETHING.search(m.string, 0, m.start()) is None:
        return ""  # an opening ellipsis is no pause
    return ". " if words.ends_sentence(m.string, m.end()) else ", "


def _word_slash(m: re.Match[str]) -> str:
    a, b = m.group("ws_a"), m.group("ws_b")
    if a.islower() and b.islower() and a != "and" and b != "and":
        return f"{a} or {b}"
    return f"{a} {b}"


def _hash(m: re.Match[str]) -> str:
    if m.group("hs") is not None:
        return "number "  # "#5": the number reads itself
    return "hashtag " if m.group("ht") is not None else " hash "


def _digits(m: re.Match[str]) -> str:
    return num.integer(m.group(0))


_HANDLERS: dict[str, Handler] = {
    "url": _address,
    "email": _address,
    "domain": _address,
    "phone": lambda m: num.phone(m.group(0)),
    "iso": _iso,
    "numdate": _numdate,
    "mdate": _mdate,
    "dmdate": _dmdate,
    "time": _time,
    "hour": _hour,
    "ratio": lambda m: f"{num.integer(m.group('ra_a'))} to {num.integer(m.group('ra_b'))}",
    "local_phone": _local_phone,
    "height": lambda m: f"{num.cardinal(int(m.group('hf')))} foot {num.cardinal(int(m.group('hi')))}",
    "money": _money,
    "money_post": _money_post,
    "ufrac": _ufrac,
    "decade": _decade,
    "short_year": lambda m: num.year(int(m.group("sy"))),
    "mixed": _mixed,
    "slash": _slash,
    "ordinal": lambda m: num.ordinal(int(m.group("or_n").replace(",", ""))),
    "dims": _dims,
    "times": lambda m: num.number(m.group("xt")) + " times",
    "qty": _qty,
    "vtail": lambda m: " point " + num.digits(m.group("vt")),
    "latin": _latin,
    "title": _title,
    "before_num": _before_num,
    "dotted_abbr": _dotted_abbr,
    "plain_abbr": _plain_abbr,
    "dots": spelling.dots,
    "code_number": lambda m: spelling.code_number(m, _plain_number),
    "spaced_letters": spelling.spaced_letters,
    "amp": spelling.amp,
    "run": lambda m: words.caps_run(m.group(0), m.string, m.start()),
    "caps": spelling.caps,
    "lone": _lone,
    "capital_a": spelling.capital_a,
    "ellipsis": _ellipsis,
    "dash": lambda m: ", ",
    "word_dash": lambda m: " to ",
    "word_slash": _word_slash,
    "slash_gap": lambda m: " ",
    "arrow": lambda m: " to ",
    "hash": _hash,
    "symbol": lambda m: f" {SYMBOLS[m.group(0)]} ",
    "drop": lambda m: " ",
    "digits": _digits,
}
if set(_HANDLERS) != {name for name, _ in PATTERNS}:  # a programming error, caught at import
    raise RuntimeError("every pattern of en_patterns.PATTERNS needs exactly one handler")


def _replace(m: re.Match[str]) -> str:
    """The spoken form of one master-regex match, spaced apart from letters or digits beside it."""
    try:
        spoken = _HANDLERS[m.lastgroup or "digits"](m)  # lastgroup: the outermost (alternative) group
    except (ValueError, KeyError, IndexError, OverflowError) as error:  # a rule's gap: read it plainly
        _LOGGER.debug("no %s reading for %r (%s): reading its numbers", m.lastgroup, m.group(0), error)
        spoken = num.numbers_in(m.group(0))
    if spoken:
        text, start, end = m.string, m.start(), m.end()
        if start > 0 and text[start - 1].isalnum() and (spoken[0].isalnum() or spoken[0] == OPEN):
            spoken = " " + spoken
        if end < len(text) and text[end].isalnum() and (spoken[-1].isalnum() or spoken[-1] == CLOSE):
            spoken += " "
    return spoken


def _prepare(text: str) -> str:
    """Unicode clean-up: odd spaces and minus signs to ASCII, non-ASCII decimal digits to 0-9."""
    text = text.translate(_TRANSLATE)
    return _OTHER_DIGIT.sub(lambda m: str(unicodedata.digit(m.group(), 0)), text)


def _normalize_plain(text: str) -> str:
    if not text.isascii():
        text = _prepare(text)
    text = MASTER.sub(_replace, text)
    text = _SPACES.sub(" ", text)
    text = _SPACE_BEFORE_PUNCT.sub("", text)
    text = _DOUBLE_PAUSE.sub(",", text)
    text = _PAUSE_BEFORE_STOP.sub("", text)
    text = _LEADING_PAUSE.sub("", text)
    return text.strip()


def normalize(text: str) -> str:
    """English text in its spoken form; ``[[ phonemes ]]`` blocks pass through unchanged."""
    if "[[" not in text:
        return _normalize_plain(text)
    out: list[str] = []
    for index, part in enumerate(_PHONEME_BLOCK.split(text)):
        if index % 2:
            out.append(part)
            continue
        spoken = _normalize_plain(part)
        if spoken and part[:1].isspace() and index:
            spoken = " " + spoken
        if spoken and part[-1:].isspace():
            spoken += " "
        out.append(spoken if spoken or not part[:1].isspace() else " ")
    return "".join(out).strip()
