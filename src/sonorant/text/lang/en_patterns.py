"""The master regex of the English normalizer: one named alternative per kind of span.

Each entry of :data:`PATTERNS` is ``(name, regex)``; :mod:`sonorant.text.lang.en` has one handler
per name and reads the named groups given here (their prefixes, ``q_``, ``c_``…, keep them apart).
Order is priority: at a given position the first alternative that matches wins, so dates come
before numbers, currencies before plain numbers, and the digit catch-all comes last.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sonorant.text.lang.en_data import (
    AFTER_NAME,
    BEFORE_NUMBER,
    GLUED_UNITS,
    MONTH_NUMBER,
    PLAIN_ABBREVIATIONS,
    SYMBOLS,
    TITLES,
    TITLES_BEFORE_NAME,
    UNICODE_FRACTIONS,
    UNITS,
)

__all__ = ["MASTER", "PATTERNS", "compile_master"]


def _alt(options: Iterable[str]) -> str:
    """A regex alternation of literal ``options``, longest first."""
    return "|".join(re.escape(o) for o in sorted(options, key=len, reverse=True))


# ------------------------------------------------------------------------------ building blocks
_NUM = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+"
_MONTH = _alt(MONTH_NUMBER)
_CUR_PRE = r"US\$|C\$|A\$|[$€£¥₹₩₽]|(?:USD|EUR|GBP|JPY|CAD|AUD|CHF|INR)(?=\s?[\d.])"
_CUR_POST = r"USD|EUR|GBP|JPY|CAD|AUD|CHF|INR|[$€£¥¢]"
_SCALE = r"(?:(?i:thousand|million|billion|trillion)|bn|mn|tn|[kKmMbB])(?![\w])"
_AMPM = r"[ap]\.m\.|[AP]\.M\.|[ap]\.m\b|[ap]m\b|[AP]M\b"
_UNIT = _alt(UNITS)
_GLUED = _alt(GLUED_UNITS)
_FRAC = "".join(UNICODE_FRACTIONS)
_SYMBOL = "".join(re.escape(s) for s in SYMBOLS)
_DOTTED_TITLES = {**{k: v for k, v in TITLES.items() if k == "Prof"}, **TITLES_BEFORE_NAME, **AFTER_NAME}
_TLD = r"com|org|net|edu|gov|io|co|uk|us|de|ai|dev|app|info"

PATTERNS: list[tuple[str, str]] = [
    # --- addresses
    ("url", r"\b(?:(?i:https?|ftp)://|www\.)[^\s<>\"'`]+"),
    ("email", r"(?<![\w.+-])[\w.+-]++@[\w-]+(?:\.[\w-]+)+"),
    ("domain", rf"(?<![\w.@/-])[A-Za-z0-9][\w-]*+(?:\.[\w-]++)*?\.(?:{_TLD})\b(?:/[^\s<>\"'`]*)?(?![\w@-])"),
    # --- phone numbers
    ("phone", r"(?<![\w+(.-])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w-])"
              r"|\+\d{1,3}(?:[\s.-]\(?\d{1,4}\)?){2,5}(?![\w-])"),
    # --- dates
    ("iso", r"(?<![\w./-])(?P<iso_y>\d{4})(?P<iso_sep>[-/.])(?P<iso_m>\d\d)(?P=iso_sep)(?P<iso_d>\d\d)(?![\w/-]|\.\d)"),
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
    ("ratio", r"(?<![\w.:])(?P<ra_a>\d+):(?P<ra_b>\d+)(?![\w:]|\.\d)"),
    ("local_phone", r"(?<![\w.-])(?P<lp_a>[2-9]\d\d)-(?P<lp_b>\d{4})(?![\w-])"),
    ("height", r"(?<![\w.])(?P<hf>[1-9])['’](?P<hi>1[01]|[0-9])(?:\"|”|''|″)"),
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
            rf"(?:(?:[-–]|[ \t][-–][ \t])(?P<q_b>{_NUM})(?![\d]))?"
            rf"(?:[ \u00a0]?(?P<q_unit>{_UNIT})(?![\w²])|(?P<q_glued>{_GLUED})(?![\w]))?"),
    ("vtail", r"(?<=\d)\.(?P<vt>\d+)"),
    # --- abbreviations
    ("latin", r"(?i:(?<![\w.])(?:e\.g|i\.e|a\.k\.a|cf|viz|et al)\.)|\bPh\.D\.|\bPhD\b"),
    ("title", r"\b(?P<ti>Mr|Mrs|Ms|Dr|St)\b(?P<ti_dot>\.)?(?!\w|\.\w)"),
    ("before_num", rf"\b(?P<bn>{_alt(BEFORE_NUMBER)})\.\s?(?=#?\d)"),
    ("dotted_abbr", rf"\b(?P<da>{_alt(_DOTTED_TITLES)})\.(?!\w)"),
    ("plain_abbr", rf"\b(?P<pa>{_alt(PLAIN_ABBREVIATIONS)})\.(?!\w)|\b(?P<vs>vs)\b(?!\.\w)"),
    ("dots", r"(?<![\w.])(?P<dt>[A-Za-z](?:\.[A-Za-z])+)(?P<dt_dot>\.)?(?![\w]|\.\w)"),
    # --- letters read by name: codes with numbers ("UA 857"), spaced single letters ("K K K")
    ("code_number", rf"(?<![\w.&/-])(?P<cn_code>[A-Z]{{2}})[ \t]?(?P<cn_num>[1-9]\d{{2,3}})"
                    rf"(?![\w%/:°-]|[.,]\d|[ \t\u00a0]?(?:{_UNIT})(?![\w²])|[ \t]?{_SCALE})"),
    ("spaced_letters", r"(?<![\w'’.&/@-])[A-Za-z](?:[ \t]+[A-Za-z])+(?![\w'’&@]|[./-]\w)"),
    # --- capitals: runs of all-caps words, single all-caps words, lone Roman numerals, the letter A
    ("amp", r"\b(?P<amp_a>[A-Z]{1,3})&(?P<amp_b>[A-Z]{1,3})\b"),
    ("run", r"\b[A-Z][A-Z'’]*\b(?:(?:[ \t]*+[,;:!?.&-])?[ \t]++[A-Z][A-Z'’]*\b){2,}(?![\w])"),
    ("caps", r"\b(?P<cw>[A-Z]{2,})(?P<cw_s>['’]s|s)?(?![A-Za-z'’])"),
    ("lone", r"\b(?P<lr>[IVX])\b(?!['’]\w)"),
    ("capital_a", r"(?<![\w'’.&/@-])A(?![\w'’&@]|[./-]\w)"),
    # --- punctuation and symbols
    ("ellipsis", r"\.{3,}|…"),
    ("dash", r"—|―|--+|(?<=[ \t])[-–](?=[ \t])"),
    ("word_dash", r"(?<=[A-Za-z])–(?=[A-Za-z])"),
    ("word_slash", r"\b(?P<ws_a>[a-z]+)/(?P<ws_b>[a-z]+)\b"),
    ("slash_gap", r"(?<=[A-Za-z])/(?=[A-Za-z])"),
    ("arrow", r"-+>|=>"),
    ("hash", r"#(?:(?P<hs>(?=\d))|(?P<ht>(?=[A-Za-z])))?"),
    ("symbol", rf"[{_SYMBOL}]"),
    ("drop", r"[*_^|\\{}™®]+"),
    ("digits", r"\d+"),
]


def compile_master() -> re.Pattern[str]:
    """The master regex: one named group per alternative, in priority order.

    A guard in front skips, in one step, the positions where no alternative can start: white
    space, a lower-case letter inside a word, and a lower-case word that is not followed by one
    of ``. @ / :`` (an address, "e.g.", "etc.", "and/or"), is not "vs" or "et" and is not a
    single letter before another ("x y z"). The alternation then runs about once per capitalized
    word, number or symbol.
    """
    alternatives = "|".join(f"(?P<{name}>{pattern})" for name, pattern in PATTERNS)
    guard = r"(?!\s|(?<=[A-Za-z0-9])[a-z]|(?=[a-z])(?!\w*+[.@/:]|vs\b|et\b|[a-z][ \t]+[A-Za-z](?![\w'’])))"
    return re.compile(guard + f"(?:{alternatives})")


MASTER = compile_master()
