"""English (American) text normalization: written text to the words a careful reader would say.

One precompiled master regex finds every span that needs reading (URL, phone number, date, time,
money, fraction, ordinal, number with its unit, abbreviation, initialism, Roman numeral, symbol,
dash) in a single left-to-right pass; its alternatives are tried in priority order at each
position and each span is replaced by its words exactly once, so a replacement is never read
again. A final digit catch-all means no digit survives. Words of the input are never dropped and
sentence punctuation (. ? ! , ; :) is kept, so sentence splitting and espeak still work.

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
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable

from sonorant.text.lang import en_numbers as num
from sonorant.text.lang import en_words as words
from sonorant.text.lang.en_data import (
    AFTER_NAME,
    BEFORE_NUMBER,
    COUNT_CUES,
    CURRENCIES,
    FRACTION_IDIOMS,
    IRREGULAR_PLURALS,
    LATIN,
    MONTH_NUMBER,
    NOT_PLURAL_S,
    PLAIN_ABBREVIATIONS,
    SCALES,
    SYMBOLS,
    TITLES,
    TITLES_BEFORE_NAME,
    UNICODE_FRACTIONS,
    UNITS,
    YEAR_CUES,
)

__all__ = ["normalize"]

_LOGGER = logging.getLogger(__name__)


def _alt(options: object) -> str:
    """A regex alternation of literal ``options``, longest first."""
    return "|".join(re.escape(o) for o in sorted(options, key=len, reverse=True))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ building blocks
_NUM = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+"
_MONTH = _alt(MONTH_NUMBER)
_CUR_PRE = r"US\$|C\$|A\$|[$€£¥₹₩₽]|(?:USD|EUR|GBP|JPY|CAD|AUD|CHF|INR)(?=\s?[\d.])"
_CUR_POST = r"USD|EUR|GBP|JPY|CAD|AUD|CHF|INR|[$€£¥¢]"
_SCALE = r"(?:(?i:thousand|million|billion|trillion)|bn|mn|tn|[kKmMbB])(?![\w])"
_AMPM = r"[ap]\.m\.|[AP]\.M\.|[ap]\.m\b|[ap]m\b|[AP]M\b"
_UNIT = _alt(UNITS)
_FRAC = "".join(UNICODE_FRACTIONS)
_SYMBOL = "".join(re.escape(s) for s in SYMBOLS)
_DOTTED_TITLES = {**{k: v for k, v in TITLES.items() if k == "Prof"}, **TITLES_BEFORE_NAME, **AFTER_NAME}
_TLD = r"com|org|net|edu|gov|io|co|uk|us|de|ai|dev|app|info"

_PATTERNS: list[tuple[str, str]] = [
    # --- addresses
    ("url", r"\b(?:(?i:https?|ftp)://|www\.)[^\s<>\"'`]+"),
    ("email", r"(?<![\w.+-])[\w.+-]++@[\w-]+(?:\.[\w-]+)+"),
    ("domain", rf"(?<![\w.@/-])[A-Za-z0-9][\w-]*+(?:\.[\w-]+)*?\.(?:{_TLD})\b(?:/[^\s<>\"'`]*)?(?![\w@-])"),
    # --- phone numbers
    ("phone", r"(?<![\w+(.-])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w-])"
              r"|\+\d{1,3}(?:[\s.-]\(?\d{1,4}\)?){2,5}(?![\w-])"),
    # --- dates
    ("iso", r"(?<![\w.-])(?P<iso_y>\d{4})-(?P<iso_m>\d\d)-(?P<iso_d>\d\d)(?![\w-])"),
    ("numdate", r"(?<![\w./-])(?P<nd_a>\d{1,2})(?P<nd_sep>[/.-])(?P<nd_b>\d{1,2})(?P=nd_sep)"
                r"(?P<nd_y>\d{4}|(?<=/)\d{2})(?![\w/.-]|\.\d)"),
    ("mdate", rf"\b(?P<md_mon>{_MONTH})(?P<md_dot>\.)?\s+(?:(?P<md_day>\d{{1,2}})(?:st|nd|rd|th)?(?![\w:%/-]|[.,]\d)"
              rf"(?:,?\s+(?P<md_year>\d{{4}})(?![\w%/-]))?|(?P<md_yonly>\d{{4}})(?![\w%/-]))"),
    ("dmdate", rf"(?<![\w.])(?P<dm_day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<dm_mon>{_MONTH})\b(?P<dm_dot>\.)?"
               rf"(?:,?\s+(?P<dm_year>\d{{4}})(?![\w%/-]))?"),
    # --- times
    ("time", rf"(?<![\w.:])(?P<t_h>2[0-4]|[01]?\d):(?P<t_m>[0-5]\d)(?::(?P<t_s>[0-5]\d))?"
             rf"(?:\s?(?P<t_ap>{_AMPM}))?(?![\w:]|\.\d)"),
    ("hour", rf"(?<![\w.:])(?P<h_h>1[0-2]|0?[1-9])\s?(?P<h_ap>{_AMPM})"),
    # --- money
    ("money", rf"(?<![\w$])(?P<c_neg>[-−])?(?P<c_sym>{_CUR_PRE})\s?(?P<c_a>{_NUM})(?:\s?(?P<c_sc>{_SCALE}))?"
              rf"(?:\s?[-–]\s?(?:{_CUR_PRE})?\s?(?P<c_b>{_NUM})(?:\s?(?P<c_sc2>{_SCALE}))?)?"),
    ("money_post", rf"(?<![\w.])(?P<cp_a>{_NUM})(?:\s?(?P<cp_sc>(?i:thousand|million|billion|trillion)))?"
                   rf"\s?(?P<cp_sym>{_CUR_POST})(?![\w])"),
    # --- fractions, decades, ordinals
    ("ufrac", rf"(?<![\d.])(?:(?P<uf_w>\d+)\s?)?(?P<uf>[{_FRAC}])"),
    ("decade", r"(?<![\w.])(?P<dc>\d{1,3}0)['’]?s(?![\w'’])|(?<![\w])['’](?P<dc2>\d0)s(?![\w])"),
    ("short_year", r"(?<![\w])['’](?P<sy>\d\d)(?![\w'’])"),
    ("mixed", r"(?<![\w./])(?P<mx_w>\d+)\s(?P<mx_n>\d+)/(?P<mx_d>\d+)(?![\w/]|\.\d)"),
    ("slash", r"(?<![\w./])(?P<sl_a>\d+)/(?P<sl_b>\d+)(?:/(?P<sl_c>\d+))?(?![\w/]|\.\d)"),
    ("ordinal", r"(?<![\w.])(?P<or_n>\d{1,3}(?:,\d{3})+|\d+)(?:st|nd|rd|th|ST|ND|RD|TH)(?![\w])"),
    # --- numbers with their unit, dimensions, ranges
    ("dims", r"(?<![\w.])(?P<x_a>\d+(?:\.\d+)?)(?P<x_sp>\s?)(?P<x_op>[x×])(?P=x_sp)(?P<x_b>\d+(?:\.\d+)?)(?![\w])"),
    ("times", r"(?<![\w.])(?P<xt>\d+(?:\.\d+)?)[x×](?![\w])"),
    ("qty", rf"(?:(?<![\w)])(?P<q_sign>[-−+]))?(?<![\d.])(?P<q_a>{_NUM})"
            rf"(?:\s?[-–]\s?(?P<q_b>{_NUM})(?![\d]))?(?:[ \u00a0]?(?P<q_unit>{_UNIT})(?![\w²]))?"),
    ("vtail", r"(?<=\d)\.(?P<vt>\d+)"),
    # --- abbreviations
    ("latin", r"(?i:(?<![\w.])(?:e\.g|i\.e|a\.k\.a|cf|viz|et al)\.)|\bPh\.D\.|\bPhD\b"),
    ("title", r"\b(?P<ti>Mr|Mrs|Ms|Dr|St)\b(?P<ti_dot>\.)?(?!\w|\.\w)"),
    ("before_num", rf"\b(?P<bn>{_alt(BEFORE_NUMBER)})\.\s?(?=#?\d)"),
    ("dotted_abbr", rf"\b(?P<da>{_alt(_DOTTED_TITLES)})\.(?!\w)"),
    ("plain_abbr", rf"\b(?P<pa>{_alt(PLAIN_ABBREVIATIONS)})\.(?!\w)|\b(?P<vs>vs)\b(?!\.\w)"),
    ("dots", r"(?<![\w.])(?P<dt>[A-Za-z](?:\.[A-Za-z])+)(?P<dt_dot>\.)?(?![\w]|\.\w)"),
    # --- capitals: runs of all-caps words, single all-caps words, lone Roman numerals
    ("run", r"\b[A-Z][A-Z'’]*\b(?:[ \t]*[,;:!?.&-]?[ \t]+[A-Z][A-Z'’]*\b){2,}(?![\w])"),
    ("caps", r"\b(?P<cw>[A-Z]{2,})(?P<cw_s>['’]s|s)?(?![A-Za-z'’])"),
    ("lone", r"\b(?P<lr>[IVX])\b(?!['’]\w)"),
    # --- punctuation and symbols
    ("ellipsis", r"\.{3,}|…"),
    ("dash", r"—|―|--+|(?<=[ \t])[-–](?=[ \t])"),
    ("word_dash", r"(?<=[A-Za-z])–(?=[A-Za-z])"),
    ("word_slash", r"\b(?P<ws_a>[A-Za-z]+)/(?P<ws_b>[A-Za-z]+)\b"),
    ("hash", r"#(?P<hs>\d)?"),
    ("symbol", rf"[{_SYMBOL}]"),
    ("drop", r"[*_^|\\{}™®]+"),
    ("digits", r"\d+"),
]


def _compile() -> re.Pattern[str]:
    """The master regex: one named group per alternative, in priority order.

    A guard in front skips, in one step, the positions where no alternative can start: white
    space, a lower-case letter inside a word, and a lower-case word that is not followed by one
    of ``. @ / :`` (an address, "e.g.", "etc.", "and/or") and is not "vs" or "et". The
    alternation then runs about once per capitalized word, number or symbol.
    """
    alternatives = "|".join(f"(?P<{name}>{pattern})" for name, pattern in _PATTERNS)
    guard = r"(?!\s|(?<=[A-Za-z0-9])[a-z]|[a-z](?!\w*+[.@/:]|vs\b|et\b))"
    return re.compile(guard + f"(?:{alternatives})")


_MASTER = _compile()
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
_FRACTION_DENOMINATORS = frozenset({2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 16, 32, 64, 100, 1000})


# ------------------------------------------------------------------------------------ handlers
Handler = Callable[[re.Match[str]], str]


def _is_year(text: str, start: int, end: int, value: int, cued_only: bool = False) -> bool:
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
    return not cued_only and value >= 1100


def _plain_number(text: str, start: int, end: int, written: str) -> str:
    """A bare written number, read as a year when the year heuristic says so."""
    if len(written) == 4 and written.isdigit() and written[0] != "0":
        value = int(written)
        if _is_year(text, start, end, value):
            return num.year(value)
    return num.number(written)


def _qty(m: re.Match[str]) -> str:
    text, sign, a, b, unit = m.string, m.group("q_sign"), m.group("q_a"), m.group("q_b"), m.group("q_unit")
    start = m.start("q_a")
    if b is not None:
        if unit is None and len(a) == 4 and a.isdigit() and b.isdigit() and len(b) in (2, 4) and not sign:
            if _is_year(text, start, m.end(), int(a)):
                return f"{num.year(int(a))} to {num.year(int(b))}"
        words_a, words_b = num.number(a), num.number(b)
        spoken = f"{words_a} to {words_b}"
    elif unit is None:
        spoken = _plain_number(text, start, m.end(), a) if not sign else num.number(a)
    else:
        spoken = num.number(a)
    if sign:
        spoken = ("plus " if sign == "+" else "minus ") + spoken
    if unit is not None:
        singular, plural = UNITS[unit]
        spoken += " " + (singular if b is None and num.is_one(a) else plural)
    return spoken


def _money(m: re.Match[str]) -> str:
    symbol = m.group("c_sym").strip()
    a, b = m.group("c_a"), m.group("c_b")
    scale = SCALES[m.group("c_sc")] if m.group("c_sc") else None
    if b is None:
        spoken = num.money(a, symbol, scale)
    else:
        scale_b = SCALES[m.group("c_sc2")] if m.group("c_sc2") else scale
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


def _iso(m: re.Match[str]) -> str:
    y, mo, d = int(m.group("iso_y")), int(m.group("iso_m")), int(m.group("iso_d"))
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
    if m.group(group) and m.group(group).endswith(".") and words.ends_sentence(m.string, m.end()):
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


def _slash(m: re.Match[str]) -> str:
    a, b, c = m.group("sl_a"), m.group("sl_b"), m.group("sl_c")
    if m.group(0) in FRACTION_IDIOMS:
        return FRACTION_IDIOMS[m.group(0)]
    if c is not None:
        return " slash ".join(num.integer(g) for g in (a, b, c))
    n, d = int(a), int(b)
    if _is_fraction(n, d) and a[0] != "0":
        return num.fraction(n, d)
    if 1 <= n <= 12 and 1 <= d <= 31:
        return num.date(n, d, None)
    return f"{num.integer(a)} slash {num.integer(b)}"


def _mixed(m: re.Match[str]) -> str:
    w, n, d = int(m.group("mx_w")), int(m.group("mx_n")), int(m.group("mx_d"))
    if n < d and _is_fraction(n, d):
        return num.mixed_fraction(w, n, d)
    rest = f"{m.group('mx_n')}/{m.group('mx_d')}"
    slash = FRACTION_IDIOMS.get(rest) or (num.fraction(n, d) if _is_fraction(n, d) else f"{num.integer(m.group('mx_n'))} slash {num.integer(m.group('mx_d'))}")
    return f"{num.integer(m.group('mx_w'))} {slash}"


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
    return spoken + "." if words.ends_sentence(m.string, m.end()) else spoken


def _plain_abbr(m: re.Match[str]) -> str:
    if m.group("vs"):
        return "versus"
    spoken = PLAIN_ABBREVIATIONS[m.group("pa")]
    return spoken + "." if words.ends_sentence(m.string, m.end()) else spoken


def _latin(m: re.Match[str]) -> str:
    written = m.group(0)
    spoken = LATIN.get(written) or LATIN[written.lower()]
    return spoken + "." if written.endswith(".") and words.ends_sentence(m.string, m.end()) else spoken


def _before_num(m: re.Match[str]) -> str:
    singular, plural = BEFORE_NUMBER[m.group("bn")]
    after = m.string[m.end() : m.end() + 40]
    many = re.match(r"#?\d+\s?(?:[-–,&]|and\b)\s?#?\d", after) is not None
    return (plural if many else singular) + " "


def _dots(m: re.Match[str]) -> str:
    spoken = words.spell(m.group("dt").replace(".", ""))
    return spoken + "." if m.group("dt_dot") and words.ends_sentence(m.string, m.end()) else spoken


def _caps(m: re.Match[str]) -> str:
    return words.caps_token(m.group("cw"), m.group("cw_s") or "", m.string, m.start(), m.start("cw") + len(m.group("cw")))


def _lone(m: re.Match[str]) -> str:
    return words.roman(m.group("lr"), m.string, m.start(), m.end()) or m.group("lr")


def _ellipsis(m: re.Match[str]) -> str:
    text = m.string
    if not text[: m.start()].strip():
        return ""
    return ". " if words.ends_sentence(text, m.end()) else ", "


def _word_slash(m: re.Match[str]) -> str:
    a, b = m.group("ws_a"), m.group("ws_b")
    if a.islower() and b.islower() and a != "and" and b != "and":
        return f"{a} or {b}"
    return f"{a} {b}"


def _hash(m: re.Match[str]) -> str:
    digit = m.group("hs")
    return f"number {num.digits(digit)}" if digit else " hash "


def _digits(m: re.Match[str]) -> str:
    return num.integer(m.group(0))


_HANDLERS: dict[str, Handler] = {
    "url": lambda m: words.read_url(m.group(0).rstrip(".,;:!?)]}'\"")) + m.group(0)[len(m.group(0).rstrip(".,;:!?)]}'\"")):],
    "email": lambda m: words.read_url(m.group(0)),
    "domain": lambda m: words.read_url(m.group(0).rstrip(".,;:!?)]}'\"/")) + m.group(0)[len(m.group(0).rstrip(".,;:!?)]}'\"/")):].replace("/", ""),
    "phone": lambda m: num.phone(m.group(0)),
    "iso": _iso,
    "numdate": _numdate,
    "mdate": _mdate,
    "dmdate": _dmdate,
    "time": _time,
    "hour": _hour,
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
    "dots": _dots,
    "run": lambda m: words.caps_run(m.group(0), m.string, m.start()),
    "caps": _caps,
    "lone": _lone,
    "ellipsis": _ellipsis,
    "dash": lambda m: ", ",
    "word_dash": lambda m: " to ",
    "word_slash": _word_slash,
    "hash": _hash,
    "symbol": lambda m: f" {SYMBOLS[m.group(0)]} ",
    "drop": lambda m: " ",
    "digits": _digits,
}
assert set(_HANDLERS) == {name for name, _ in _PATTERNS}, "every pattern needs a handler"


def _replace(m: re.Match[str]) -> str:
    """The spoken form of one master-regex match, spaced apart from letters or digits beside it."""
    spoken = _HANDLERS[m.lastgroup or "digits"](m)  # lastgroup: the outermost (alternative) group
    if spoken:
        text, start, end = m.string, m.start(), m.end()
        if start > 0 and text[start - 1].isalnum() and spoken[0].isalnum():
            spoken = " " + spoken
        if end < len(text) and text[end].isalnum() and spoken[-1].isalnum():
            spoken += " "
    return spoken


def _prepare(text: str) -> str:
    """Unicode clean-up: odd spaces and minus signs to ASCII, non-ASCII decimal digits to 0-9."""
    text = text.translate(_TRANSLATE)
    return _OTHER_DIGIT.sub(lambda m: str(unicodedata.digit(m.group(), 0)), text)


def _normalize_plain(text: str) -> str:
    if not text.isascii():
        text = _prepare(text)
    text = _MASTER.sub(_replace, text)
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
    parts = _PHONEME_BLOCK.split(text)
    out = [part if index % 2 else _normalize_plain(part) for index, part in enumerate(parts)]
    return " ".join(part for part in out if part)
