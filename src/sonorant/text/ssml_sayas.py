"""The readings of SSML ``<say-as interpret-as=…>``: spelling, digits, telephone numbers, numbers,
dates and times, as text for the rest of the front end.

Each function returns the spoken form, or None when the content cannot be read that way (the
caller then reads the content as written, and says so in the log). Letters are spelled as letter
groups (:mod:`sonorant.text.letters`), so that each is spoken by its name.
"""

from __future__ import annotations

import re
from typing import Optional

from sonorant.text import letters

__all__ = ["DATE_FORMATS", "cardinal", "date", "digits", "ordinal", "spell", "telephone", "time"]

DATE_FORMATS = ("mdy", "dmy", "ymd", "ydm", "md", "dm", "ym", "my", "y", "m", "d")
"""The values of ``format`` that ``interpret-as="date"`` accepts."""

_DIGITS_EN = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_SYMBOLS_EN = {
    ".": "dot", "-": "dash", "_": "underscore", "@": "at", "/": "slash", "\\": "backslash", "&": "and",
    "+": "plus", "#": "hash", "*": "star", "%": "percent", "=": "equals", ":": "colon", ",": "comma",
}
_MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
_GROUP_SEPARATORS = re.compile(r"[\s\-./()]+")


def _digit_word(digit: str, english: bool) -> str:
    return _DIGITS_EN[int(digit)] if english and digit in "0123456789" else digit


def spell(content: str, english: bool) -> str:
    """Characters one by one: letters by their names (letter groups), digits as words, symbols named."""
    words: list[str] = []
    for char in content:
        if char.isspace():
            continue
        if char.isalpha():
            upper = char.upper()
            words.append(letters.group(upper if len(upper) == 1 else char))
        elif char.isdigit():
            words.append(_digit_word(char, english))
        elif english and char in _SYMBOLS_EN:
            words.append(_SYMBOLS_EN[char])
        else:
            words.append(char)
    return " ".join(words)


def digits(content: str, english: bool) -> str:
    """Digits one by one as words; other characters spelled, separators kept as pauses."""
    groups = [g for g in _GROUP_SEPARATORS.split(content) if g]
    return ", ".join(spell(group, english) for group in groups)


def telephone(content: str, english: bool) -> str:
    """A phone number digit by digit, a short pause between its groups; a leading '+' read as plus."""
    prefix = ""
    if content.startswith("+"):
        prefix, content = ("plus " if english else "+ "), content[1:]
    groups = [g for g in _GROUP_SEPARATORS.split(content) if g]
    return prefix + ", ".join(spell(group, english) for group in groups)


def cardinal(content: str) -> Optional[str]:
    """A number with its thousands grouped ("1,234"), so that it is read as a cardinal, not a year."""
    number = content.replace(",", "").replace("_", "").replace(" ", "")
    match = re.fullmatch(r"([+-]?)(\d+)(\.\d+)?", number)
    if match is None:
        return None
    sign, whole, fraction = match.groups()
    return f"{'-' if sign == '-' else ''}{int(whole):,}{fraction or ''}"


def _ordinal_suffix(number: int) -> str:
    if 10 <= number % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")


def ordinal(content: str) -> Optional[str]:
    """"3" -> "3rd" (already suffixed ordinals kept)."""
    number = content.replace(",", "")
    if re.fullmatch(r"\d+(st|nd|rd|th)", number, re.I):
        return number
    if re.fullmatch(r"\d+\.?", number):
        value = int(number.rstrip("."))
        return f"{value}{_ordinal_suffix(value)}"
    return None


def _month(field: str) -> Optional[int]:
    if field.isdigit():
        return int(field) if 1 <= int(field) <= 12 else None
    name = field.lower().rstrip(".")
    for index, month in enumerate(_MONTHS_EN):
        if len(name) >= 3 and month.lower().startswith(name):
            return index + 1
    return None


def date(content: str, fmt: str, english: bool) -> Optional[str]:
    """A date as "March 3rd, 2024" (the parts ``fmt`` names, in that order in ``content``)."""
    fields = [f for f in re.split(r"[\s\-/.,]+", content) if f]
    if len(fields) != len(fmt) or not english:
        return None
    parts = dict(zip(fmt, fields))
    month = _month(parts["m"]) if "m" in parts else None
    day = int(parts["d"]) if "d" in parts and parts["d"].isdigit() else None
    year = parts.get("y")
    if ("m" in parts and month is None) or ("d" in parts and not (day and 1 <= day <= 31)) or (
        year is not None and not year.isdigit()
    ):
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


def time(content: str, fmt: str) -> Optional[str]:
    """A clock time as "2:30 PM" ("2 PM" on the hour); kept on the 24-hour clock if ``format="hms24"``."""
    match = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*(?:([ap])\.?\s*m?\.?)?", content.strip(), re.I)
    if match is None:
        return None
    hour, minute, second = int(match.group(1)), int(match.group(2) or 0), int(match.group(3) or 0)
    if hour > 23 or minute > 59 or second > 59 or (match.group(4) and not 1 <= hour <= 12):
        return None
    if fmt == "hms24" and not match.group(4):
        clock = f"{hour}:{minute:02d}" if minute or second else f"{hour} hundred"
        return clock + (f":{second:02d}" if second else "")
    half = match.group(4).upper() + "M" if match.group(4) else ("AM" if hour < 12 else "PM")
    if not match.group(4):
        hour = hour % 12 or 12
    clock = f"{hour}:{minute:02d}" if minute or second else f"{hour}"
    return f"{clock}{f':{second:02d}' if second else ''} {half}"
