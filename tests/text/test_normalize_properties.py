"""Properties of English normalization: it never raises, never drops a word, leaves no digit."""

from __future__ import annotations

import random
import re
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sonorant.text import normalize

# Ordinary words: none is an abbreviation, unit, month, cue for a.m./p.m. or Roman numeral.
VOCABULARY = """
the a an and or but if then when while because of to in on at by for with from into over under
after before about between through during without within around cat dog house tree river mountain
city village road garden window door table chair book letter story song music picture friend family
mother father brother sister child teacher doctor farmer painter baker walk run jump swim sing read
write speak listen watch open close carry bring take give find keep hold turn start stop begin end
happy sad quick slow bright dark warm cold green blue red yellow small large little great old young
new early late quiet loud soft hard gentle strong simple clever careful honest brave kind always
never often sometimes usually again almost already also even still just only really very too here
there everywhere somewhere today tomorrow yesterday morning evening night week year summer winter
water bread apple orange coffee tea milk sugar salt paper stone glass wood metal gold silver light
""".split()
SEPARATORS = [" ", " ", " ", ", ", ". ", "; ", ": ", "! ", "? ", " - ", " -- ", "... ", "\u2014", "\n", " (", ") "]
_LETTERS = re.compile(r"[A-Za-z]+")
_DIGIT = re.compile(r"[0-9]")


def _tokens(text: str) -> list[str]:
    return [token.lower() for token in _LETTERS.findall(text)]


def _is_subsequence(needles: list[str], haystack: list[str]) -> bool:
    remaining = iter(haystack)
    return all(any(token == needle for token in remaining) for needle in needles)


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_any_unicode_normalizes_without_raising(text: str) -> None:
    assert isinstance(normalize(text), str)


@settings(deadline=None, max_examples=200)
@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=40))
def test_any_code_point_even_lone_surrogates_normalizes(text: str) -> None:
    assert isinstance(normalize(text + " 5 kg " + text), str)


def test_every_code_point_plane_zero() -> None:
    text = "".join(chr(c) for c in range(0x10000)) + "".join(chr(c) for c in range(0x1F000, 0x1FB00))
    spoken = normalize(text)
    assert isinstance(spoken, str) and not _DIGIT.search(spoken)


_TRICKY = list("0123456789$€£¥¢%.,:;-–—/ \n'\"()#&+=×±°½¾aAeIVXMDCLkgmsptdhnoy@_*…")


@settings(deadline=None, max_examples=500)
@given(st.text(alphabet=st.sampled_from(_TRICKY), max_size=60))
def test_number_and_symbol_soup_leaves_no_digit(text: str) -> None:
    spoken = normalize(text)
    assert isinstance(spoken, str)
    assert not _DIGIT.search(spoken), (text, spoken)


@settings(deadline=None, max_examples=200)
@given(st.lists(st.tuples(st.sampled_from(VOCABULARY), st.sampled_from(SEPARATORS)), min_size=1, max_size=40))
def test_every_plain_word_survives_in_order(pieces: list[tuple[str, str]]) -> None:
    text = "".join(word + separator for word, separator in pieces)
    spoken = normalize(text)
    assert _is_subsequence([word for word, _ in pieces], _tokens(spoken)), (text, spoken)


# ------------------------------------------------------------------------------- mixed prose
def _number_expression(rng: random.Random) -> str:
    """One written number in a random everyday form."""
    n = rng.randint(0, 10**rng.randint(1, 7))
    year = rng.randint(1100, 2099)
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    forms = [
        str(n),
        f"{n:,}",
        f"{rng.randint(0, 999)}.{rng.randint(0, 99)}",
        f"-{rng.randint(1, 99)}",
        f"{rng.randint(0, 100)}%",
        f"{rng.randint(1, 99)}.{rng.randint(0, 9)}%",
        f"${rng.randint(0, 9999)}.{rng.randint(0, 99):02d}",
        f"${n:,}",
        f"€{rng.randint(1, 99)}.{rng.randint(1, 9)} million",
        f"£{rng.randint(0, 99)}.{rng.randint(0, 99):02d}",
        f"¥{n}",
        f"{rng.randint(1, 999)}{rng.choice(['st', 'nd', 'rd', 'th'])}",
        str(year),
        f"in {year}",
        f"{rng.randint(190, 201)}0s",
        f"'{rng.randint(1, 9)}0s",
        f"{rng.randint(1, 12)}:{rng.randint(0, 59):02d} {rng.choice(['am', 'pm', 'a.m.', 'PM', ''])}",
        f"{rng.randint(1, 12)}{rng.choice(['am', 'pm'])}",
        f"{year}-{month:02d}-{day:02d}",
        f"{month:02d}/{day:02d}/{year}",
        f"{rng.choice(['Jan.', 'March', 'Sept.', 'May', 'Dec'])} {day}, {year}",
        f"{day}th of {rng.choice(['May', 'June', 'October'])}",
        f"{rng.randint(1, 9)}/{rng.randint(2, 10)}",
        f"{rng.randint(1, 9)} {rng.randint(1, 3)}/4",
        f"{rng.randint(1, 50)}-{rng.randint(51, 99)}",
        f"({rng.randint(200, 999)}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04d}",
        f"+1 {rng.randint(200, 999)} {rng.randint(200, 999)} {rng.randint(0, 9999):04d}",
        f"{rng.randint(1, 500)} {rng.choice(['kg', 'km', 'mph', 'MB', 'ft', 'min', '°C', '°F', 'mg', 'GHz'])}",
        f"{rng.randint(1, 40)}°C",
        f"No. {rng.randint(1, 99)}",
        f"#{rng.randint(1, 99)}",
        f"{rng.randint(1, 9)}x{rng.randint(1, 9)}",
        f"{rng.randint(1, 9)} + {rng.randint(1, 9)} = {rng.randint(2, 18)}",
        f"v{rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}",
        f"B{rng.randint(1, 99)}",
        f"{rng.randint(1, 9)}½",
        f"{rng.randint(1, 20)}:{rng.randint(1, 9)}",
        str(rng.randint(10**20, 10**40)),
    ]
    return rng.choice(forms).strip()


def _sentence(rng: random.Random) -> tuple[str, list[str]]:
    """A sentence of plain words and numbers, and its plain words in order."""
    parts: list[str] = []
    plain: list[str] = []
    for _ in range(rng.randint(3, 14)):
        if rng.random() < 0.3:
            parts.append(_number_expression(rng))
        else:
            word = rng.choice(VOCABULARY)
            parts.append(word)
            plain.append(word)
    if not plain:
        word = rng.choice(VOCABULARY)
        parts.append(word)
        plain.append(word)
    text = " ".join(parts)
    return text[0].upper() + text[1:] + rng.choice([".", ".", "!", "?"]), plain


@settings(deadline=None, max_examples=3, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=2**32))
def test_mixed_prose_normalizes_fully(seed: int) -> None:
    rng = random.Random(seed)
    sentences: list[tuple[str, list[str]]] = []
    size = 0
    while size < 100_000:
        sentence = _sentence(rng)
        sentences.append(sentence)
        size += len(sentence[0]) + 1
    for text, plain in sentences:
        spoken = normalize(text)
        assert spoken.strip(), text
        assert not _DIGIT.search(spoken), (text, spoken)
        assert _is_subsequence(plain, _tokens(spoken)), (text, spoken)
    whole = normalize(" ".join(text for text, _ in sentences))
    assert not _DIGIT.search(whole)
    assert _is_subsequence([w for _, plain in sentences for w in plain], _tokens(whole))


def test_throughput_on_prose() -> None:
    """A loose floor (the measured rate on one core is far higher): guards against regex blow-ups."""
    rng = random.Random(7)
    prose = " ".join(_sentence(rng)[0] if rng.random() < 0.2 else " ".join(rng.choices(VOCABULARY, k=12)) + "."
                     for _ in range(3000))
    normalize(prose[:5000])
    start = time.perf_counter()
    normalize(prose)
    rate = len(prose) / (time.perf_counter() - start)
    assert rate > 50_000, f"{rate:,.0f} characters/second"


def test_pathological_inputs_stay_linear() -> None:
    for text in ("a." * 20_000, "A " * 20_000 + "b", "1," * 20_000, "x@" * 20_000, " " * 50_000 + "A",
                 "9" * 50_000, "...." * 10_000, "I " * 20_000, "\u4e2d" * 40_000, "\u00e9" * 40_000,
                 "Ab " * 15_000, "1/" * 20_000, "1:" * 20_000, "a@" * 20_000, "HELLO " * 8_000):
        start = time.perf_counter()
        normalize(text)
        assert time.perf_counter() - start < 2.0, text[:20]
