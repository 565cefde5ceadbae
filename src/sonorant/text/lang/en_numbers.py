"""English number words: cardinals, ordinals, years, decimals, fractions, money, times, dates, phones.

Pure functions from already-parsed values to words; the regexes that find them live in
:mod:`sonorant.text.lang.en_patterns`. ``num2words`` supplies the words of 0–999 (cached); the
scale words, ordinal endings, years, money and the rest are composed here, which keeps every reading
American ("one hundred one", no "and") and fast (no ``num2words`` call after the cache is warm).
"""

from __future__ import annotations

import functools
import re
from typing import Optional

from num2words import num2words

from sonorant.text.lang.en_data import CURRENCIES, MONTHS

_SCALE_WORDS = (
    "", "thousand", "million", "billion", "trillion", "quadrillion", "quintillion", "sextillion",
    "septillion", "octillion", "nonillion", "decillion",
)
MAX_CARDINAL_DIGITS = 3 * len(_SCALE_WORDS)
"""Integers with more digits than this are read digit by digit."""

_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_ORDINAL_IRREGULAR = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}
_DIGIT_RUN = re.compile(r"[0-9]+")


@functools.lru_cache(maxsize=1024)
def _below_thousand(n: int) -> str:
    """Words of 0 <= n < 1000, American style ("one hundred one")."""
    return num2words(n).replace(" and ", " ").replace(",", "")


@functools.lru_cache(maxsize=4096)
def cardinal(n: int) -> str:
    """Cardinal words: 1234 -> "one thousand two hundred thirty-four", -5 -> "minus five"."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n < 1000:
        return _below_thousand(n)
    text = str(n)
    if len(text) > MAX_CARDINAL_DIGITS:
        return digits(text)
    words: list[str] = []
    scale = 0
    while n:
        n, group = divmod(n, 1000)
        if group:
            part = _below_thousand(group)
            words.append(f"{part} {_SCALE_WORDS[scale]}" if scale else part)
        scale += 1
    return " ".join(reversed(words))


def _ordinal_word(word: str) -> str:
    """The ordinal form of one cardinal word ("twenty" -> "twentieth", "one" -> "first")."""
    if word in _ORDINAL_IRREGULAR:
        return _ORDINAL_IRREGULAR[word]
    if word.endswith("y"):
        return word[:-1] + "ieth"
    return word + "th"


@functools.lru_cache(maxsize=1024)
def ordinal(n: int) -> str:
    """Ordinal words: 22 -> "twenty-second", 103 -> "one hundred third", 11 -> "eleventh"."""
    words = cardinal(n)
    head, space, last = words.rpartition(" ")
    prefix, hyphen, tail = last.rpartition("-")
    return f"{head}{space}{prefix}{hyphen}{_ordinal_word(tail)}"


def digits(text: str) -> str:
    """Each digit of ``text`` as a word: "007" -> "zero zero seven" (other characters dropped)."""
    return " ".join(_DIGIT_WORDS[ord(c) - 48] for c in text if "0" <= c <= "9")


def integer(text: str) -> str:
    """An integer as written (commas allowed): leading zeros or very long -> digit by digit."""
    text = text.replace(",", "")
    if not text:
        return ""
    if (len(text) > 1 and text[0] == "0") or len(text) > MAX_CARDINAL_DIGITS:
        return digits(text)
    return cardinal(int(text))


def number(text: str) -> str:
    """A written number: "1,234.56" -> "one thousand two hundred thirty-four point five six", ".5"."""
    whole, dot, fraction = text.partition(".")
    words = integer(whole) if whole else ""
    if dot and fraction:
        words = f"{words} point {digits(fraction)}" if words else f"point {digits(fraction)}"
    return words


def numbers_in(text: str) -> str:
    """``text`` with every run of digits read as an integer (a fallback that leaves no digit)."""
    return _DIGIT_RUN.sub(lambda m: f" {integer(m.group())} ", text)


def is_one(text: str) -> bool:
    """True when a written number is exactly the integer 1 (a singular unit follows)."""
    return text.lstrip("+") == "1"


# ------------------------------------------------------------------------------------------- years
def paired(text: str) -> str:
    """A 3- or 4-digit code number read in pairs, as flight and model numbers are said: "857" -> "eight
    fifty-seven", "1205" -> "twelve oh five", "800" -> "eight hundred", "2000" -> "two thousand"."""
    n = int(text)
    high, low = divmod(n, 100)
    if high == 0:
        return cardinal(n)
    if low == 0:
        return cardinal(n) if n % 1000 == 0 else f"{cardinal(high)} hundred"
    return f"{cardinal(high)} {'oh ' if low < 10 else ''}{cardinal(low)}"


def year(n: int) -> str:
    """Year words: 1999 -> "nineteen ninety-nine", 2001 -> "two thousand one", 2010 -> "twenty ten",
    1900 -> "nineteen hundred", 1905 -> "nineteen oh five"; two-digit 5 -> "oh five"."""
    if n < 0:
        return cardinal(n)
    if n < 100:
        return f"oh {cardinal(n)}" if n < 10 else cardinal(n)
    if n > 9999:
        return cardinal(n)
    high, low = divmod(n, 100)
    if low == 0:
        return cardinal(n) if n % 1000 == 0 else f"{cardinal(high)} hundred"
    if low < 10:
        if high % 10 == 0:  # 2001-2009, 1001-1009
            return cardinal(n)
        return f"{cardinal(high)} oh {cardinal(low)}"
    return f"{cardinal(high)} {cardinal(low)}"


def plural_word(words: str) -> str:
    """The last word made plural: "nineteen ninety" -> "nineteen nineties", "hundred" -> "hundreds"."""
    if words.endswith("y"):
        return words[:-1] + "ies"
    if words.endswith("x"):
        return words + "es"
    return words + "s"


def decade(text: str) -> str:
    """A decade: "1990" -> "nineteen nineties", "90" -> "nineties", "1900" -> "nineteen hundreds"."""
    value = int(text)
    return plural_word(year(value) if len(text) == 4 else cardinal(value))


# --------------------------------------------------------------------------------------- fractions
def _denominator(den: int, plural: bool) -> str:
    """The denominator word: 2 -> "half"/"halves", 4 -> "quarter", 3 -> "third", 100 -> "hundredth"."""
    if den == 2:
        return "halves" if plural else "half"
    if den == 4:
        return "quarters" if plural else "quarter"
    word = ordinal(den)
    if word.startswith("one ") and not plural:
        return word  # 1/100 -> "one hundredth"
    word = word.removeprefix("one ")
    return word + "s" if plural else word


def fraction(num: int, den: int) -> str:
    """A proper or improper fraction: (1, 2) -> "one half", (3, 4) -> "three quarters"."""
    if num == 1:
        den_word = _denominator(den, plural=False)
        return den_word if den_word.startswith("one ") else f"one {den_word}"
    return f"{cardinal(num)} {_denominator(den, plural=True)}"


def mixed_fraction(whole: int, num: int, den: int) -> str:
    """A mixed number: (2, 1, 2) -> "two and a half", (2, 3, 4) -> "two and three quarters"."""
    if num == 1:
        part = "a " + _denominator(den, plural=False).removeprefix("one ")
    else:
        part = fraction(num, den)
    return f"{cardinal(whole)} and {part}"


# ------------------------------------------------------------------------------------------- money
def money(amount: str, currency: str, scale: Optional[str] = None, attributive: bool = False) -> str:
    """An amount of money as written after its symbol: ("3.50", "$") -> "three dollars and fifty cents",
    ("0.99", "$") -> "ninety-nine cents", ("1.5", "€", "million") -> "one point five million euros".

    ``attributive``: the amount qualifies a noun ("a $5 bill", "a $2 million deal"): a whole amount
    takes the singular ("a five dollar bill", "a two million dollar deal").
    """
    singular, plural, sub_singular, sub_plural = CURRENCIES[currency]
    amount = amount.replace(",", "")
    if scale:
        return f"{number(amount)} {scale} {singular if attributive else plural}"
    whole, _, frac = amount.partition(".")
    units = int(whole) if whole else 0
    if not frac.strip("0"):
        return f"{integer(whole or '0')} {singular if units == 1 or attributive else plural}"
    if len(frac) > 2 or sub_singular is None or sub_plural is None:
        return f"{number(amount)} {plural}"
    cents = int(frac.ljust(2, "0"))
    major = f"{integer(whole or '0')} {singular if units == 1 else plural}"
    if cents == 0:
        return major
    minor = f"{cardinal(cents)} {sub_singular if cents == 1 or (attributive and units == 0) else sub_plural}"
    return minor if units == 0 else f"{major} and {minor}"


# ------------------------------------------------------------------------------------ times, dates
def clock(hour: int, minute: int, second: Optional[int] = None, meridiem: str = "") -> str:
    """A clock time: (3, 45, None, "PM") -> "three forty-five PM", (10, 5) -> "ten oh five",
    (12, 0) -> "twelve o'clock", (15, 0) -> "fifteen hundred"."""
    words = cardinal(hour)
    if minute == 0:
        if not meridiem:
            words += " o'clock" if 0 < hour <= 12 else " hundred"
    elif minute < 10:
        words += f" oh {cardinal(minute)}"
    else:
        words += f" {cardinal(minute)}"
    if meridiem:
        words += f" {meridiem}"
    if second:
        words += f" and {cardinal(second)} {'second' if second == 1 else 'seconds'}"
    return words


def date(month: int, day: Optional[int], year_text: Optional[str], day_first: bool = False) -> str:
    """A calendar date: (1, 3, "2021") -> "January third, twenty twenty-one";
    day_first -> "the third of May"."""
    name = MONTHS[month - 1]
    if day is None:
        words = name
    elif day_first:
        words = f"the {ordinal(day)} of {name}"
    else:
        words = f"{name} {ordinal(day)}"
    if year_text:
        words += f", {year(int(year_text))}" if day is not None else f" {year(int(year_text))}"
    return words


def phone(text: str) -> str:
    """A phone number, digit by digit, a comma between its groups: "(555) 123-4567" ->
    "five five five, one two three, four five six seven"; "+1" -> "plus one"; "800" -> "eight hundred"."""
    groups = []
    for group in _DIGIT_RUN.findall(text):
        if len(group) == 3 and group.endswith("00") and group[0] != "0":
            groups.append(f"{_DIGIT_WORDS[int(group[0])]} hundred")
        else:
            groups.append(digits(group))
    words = ", ".join(groups)
    return f"plus {words}" if text.lstrip().startswith("+") else words
