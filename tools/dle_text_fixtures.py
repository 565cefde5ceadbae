"""Build the Tacotron2 text front-end reference (tests/fixtures/tacotron2/text_ref.json) with DLE's own code.

NOT a project module: it runs in a throwaway venv with only what NVIDIA DeepLearningExamples' (DLE)
Tacotron2 text package needs, and it never imports sonorant. It imports DLE's ``tacotron2/text``
package straight from a checkout (without ``tacotron2/__init__.py``, which pulls in torch), runs
``text_to_sequence(text, ["english_cleaners"])`` on every sentence below, and stores the ids.

Setup (what produced the committed file)::

    python3.11 -m venv /tmp/dle-text-venv
    /tmp/dle-text-venv/bin/pip install inflect          # 7.6.0 here; the only third-party import of the package
    mkdir -p /tmp/dle && git --git-dir=<DeepLearningExamples mirror> archive HEAD \\
        PyTorch/SpeechSynthesis/Tacotron2 | tar x -C /tmp/dle
    /tmp/dle-text-venv/bin/python tools/dle_text_fixtures.py \\
        --dle /tmp/dle/PyTorch/SpeechSynthesis/Tacotron2 --out tests/fixtures/tacotron2/text_ref.json

DLE at 729963dd47e7c8bd462ad10bfac7a7b0b604e6dd (2024-04-04); its ``tacotron2/text`` last changed in
469df9b0ee5936833b24537a19a42e518d8c8e94 (2022-09-07). DLE transliterates with its own vendored
``unidecoder`` tables, not the ``unidecode`` package, so that is not installed.

The file holds: ``symbols`` (DLE's id -> symbol table), ``cases`` (``text``, ``ids``), and
``to_ascii``: DLE's transliteration of every assigned character of U+00A0-U+024F and U+2000-U+206F
(the letters and punctuation English text meets), for the tests of sonorant's own transliteration.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
import unicodedata
import warnings
from pathlib import Path
from typing import Any

_PLAIN = [
    "Printing, in the only sense with which we are at present concerned, differs from most if not from all the arts.",
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore.",
    "Peter Piper picked a peck of pickled peppers.",
    "It was the best of times, it was the worst of times.",
    "The committee met on a cold Tuesday morning in late November.",
    "He walked slowly toward the river and sat down on the bank.",
    "Every morning the baker opens his shop before sunrise.",
    "The witness testified that he had seen the defendant near the bank.",
    "A journey of a thousand miles begins with a single step.",
    "The weather forecast calls for rain throughout the weekend.",
    "They built a small house at the edge of the forest.",
    "Nobody expected the meeting to last so long.",
    "The library closes early on holidays.",
    "Please remember to turn off the lights when you leave.",
    "The president spoke to reporters after the ceremony.",
    "In the beginning there was only darkness and silence.",
    "Our train was delayed because of a signal failure.",
    "The old clock in the hallway stopped at midnight.",
    "She opened the letter and read it twice before answering.",
    "Music can change the mood of an entire room.",
    "The children played in the garden until it grew dark.",
    "Scientists have discovered a new species of frog.",
    "The report was published without any corrections.",
    "I would rather walk than wait for the bus.",
    "The secret service agents surrounded the car.",
    "Water boils at a lower temperature on high mountains.",
    "The museum displays paintings from many centuries.",
    "Her voice was calm, clear and confident.",
    "The prisoners were moved to another building at dawn.",
    "We need more time to finish the project properly.",
    "The city council approved the new budget yesterday.",
    "Light travels faster than sound.",
    "He found the key under a pile of old newspapers.",
    "The storm knocked down several trees along the road.",
    "Reading aloud helps children learn new words.",
    "The captain ordered the crew to raise the anchor.",
    "Thank you very much for your kind invitation.",
    "Grammar and spelling matter in formal writing.",
    "The coffee was too hot to drink right away.",
    "hello",
    "a",
    "I",
]
_PUNCTUATION = [
    "Hello, world!",
    "Is it raining? Yes, it is.",
    "Wait; listen: do you hear that?",
    "He paused (just for a moment) and went on.",
    "It's John's book, isn't it?",
    "Stop! Don't move!",
    "Well... I'm not sure.",
    "Really?!",
    "Yes. No. Maybe.",
    "The items were: apples, pears, and plums.",
    "Note (see below): this matters.",
    "What, exactly, do you mean?",
    "One, two; three: four!",
    "((nested)) brackets, ok?",
    "Trailing comma,",
    "The end.",
    "'Tis the season.",
    "rock 'n' roll",
    "Ready? Set. Go!",
    "Hmm...",
    "?!",
]
_QUOTES = [
    'He said "hello" and left.',
    "She whispered 'goodnight' softly.",
    "“Curly double quotes” are common.",
    "‘Curly single quotes’ too.",
    "It’s the apostrophe that matters.",
    "«Guillemets» are French.",
    "The word ``quoted`` in TeX style.",
    "„German quotes“ here.",
    '"Nothing," she said, "is ever simple."',
    "Don’t you think so?",
]
_DASHES = [
    "A well-known fact.",
    "Wait - what happened?",
    "Pages ten--twenty were missing.",
    "The answer—if there is one—is unclear.",
    "From Monday – Friday only.",
    "A non‑breaking hyphen.",
    "The figure dash ‒ here.",
    "He was — as always — late.",
    "self-evident and long-term",
    "Dash at the end-",
    "-leading dash",
    "The horizontal bar ― used in dialogue.",
]
_ABBREVIATIONS = [
    "Mr. Smith met Dr. Jones.",
    "Mrs. Brown lives on St. James Street.",
    "Drs. Lee and Kim published the paper.",
    "Maj. Gen. Adams arrived with Col. Baker.",
    "Lt. Dan and Sgt. Pepper saluted Capt. Hook.",
    "The Rev. Green and the Hon. White were there.",
    "John Smith, Esq. signed it.",
    "Acme Co. Ltd. went bankrupt.",
    "Sammy Davis Jr. sang.",
    "They visited Ft. Worth last year.",
    "MR. JONES SHOUTED.",
    "mr. lowercase and DR. uppercase",
    "Mr Smith without a period.",
    "The first. The last st. one.",
    "Dr.Jones without a space.",
    "St. Louis is a city.",
    "Co. and co. and CO.",
    "e.g. this and i.e. that",
    "Misc. notes, etc.",
    "Prof. Oak and Gov. Brown.",
    "Main St. is closed.",
    "He met Mrs.Smith and Mr.Smith.",
]
_CASE = [
    "HELLO WORLD",
    "The FBI and the CIA",
    "iPhone and eBay",
    "camelCaseWords and PascalCase",
    "ThIs Is MiXeD cAsE.",
    "NASA launched a rocket.",
    "I AM SHOUTING, are you?",
    "McDonald and O'Brien",
    "TV, DVD and VHS",
    "Ok, OK, ok.",
]
_NON_ASCII = [
    "The café was crowded.",
    "A naïve question.",
    "Zürich is in Switzerland.",
    "Herr Müller lives in Köln.",
    "The Straße was long.",
    "Ørsted and Århus.",
    "Œuvre complète.",
    "The façade was restored.",
    "A jalapeño pepper.",
    "Her résumé was impressive.",
    "Ångström units.",
    "Łódź is in Poland.",
    "Tōkyō and Kyōto.",
    "Dvořák composed it.",
    "A smörgåsbord of food.",
    "The coöperation worked.",
    "The ﬁnal ﬂight.",
    "Wait… what?",
    "Brand™ and Name®",
    "non\u00a0breaking\u00a0space",
    "thin\u2009space",
    "zero\u200bwidth",
    "soft\u00adhyphen",
    "Señor García",
    "Crème brûlée.",
    "Ærøskøbing",
    "Þórr and Ðóra",
    "Encyclopædia",
    "Ça va?",
    "Ğ and ı in Turkish.",
    "Water is H₂O.",
    "α and β are Greek.",
    "Москва is Moscow.",
    "東京 is Tokyo.",
    "I love it 😀",
    "¿Qué? ¡Olé!",
    "10 °C",
]
_ARPABET = [
    "Turn left on {HH AW1 S S T AH0 N} Street.",
    "{HH AH0 L OW1} world.",
    "Say {T AH0 M EY1 T OW2}.",
    "{DH AH0} end",
    "A {K AE1 T} and a {D AO1 G}.",
    "Word{B AH1 T}word",
    "{  HH   AH0  L OW1  }",
    "Stress free {AH AE IY UW}.",
    "Mr. {S M IH1 TH}, hello.",
    "Hello, {W ER1 L D}!",
    "{HH AH0 L OW1}",
    "The {Y UW1 N AH0 K AO2 R N} ran.",
    "({P EH1 R AH0 N} thesis)",
    "Dr. {JH OW1 N Z} and St. {L UW1 IH0 S}",
    "Both {AH0}{B AW1 T} joined.",
    "Lower {hh ah0 l ow1} case.",
    "Unknown {XX Y1} symbols.",
    "Unbalanced {HH AH0 brace.",
    "Stray } brace.",
    "Empty {} braces.",
    "Blank { } braces.",
    "Nested {HH {AH0} L} braces.",
]
_OUT_OF_SET = [
    "Use #hashtags often.",
    "Array[index] notation.",
    "Tom & Jerry",
    "Fifty % off",
    "Email me @ home",
    "A * B / C",
    "Back\\slash",
    "under_score",
    "tilde~here",
    "a + b = c",
    "x < y > z",
    "pipe | symbol",
    "caret ^ here",
    "back`tick",
    "{braces} in prose",
    "semi;colon:colon",
    "curly } alone",
]
_DIGITS = [
    "I have 3 cats.",
    "The year 1999 was great.",
    "In 2008 things changed.",
    "It costs $3.50.",
    "It costs $1.",
    "About 1,000,000 people.",
    "Pi is 3.14159.",
    "The 21st century.",
    "My 2nd try.",
    "Room 101.",
    "It weighs £5.",
    "Call 911 now.",
    "From 1900 to 2000.",
    "Chapter 12, verse 4",
    "007",
]
_WHITESPACE = [
    "Too   many    spaces.",
    "Tabs\tand\ttabs.",
    "Line\nbreaks\nhere.",
    " leading space",
    "trailing space ",
    "Line\nbefore {HH AH0} brace.",
]

SENTENCES: list[str] = [
    *_PLAIN, *_PUNCTUATION, *_QUOTES, *_DASHES, *_ABBREVIATIONS, *_CASE, *_NON_ASCII, *_ARPABET,
    *_OUT_OF_SET, *_DIGITS, *_WHITESPACE,
]
RANGES = ((0x00A0, 0x0250), (0x2000, 0x2070))


def _import_dle_text(dle: Path) -> Any:
    """DLE's ``tacotron2.text`` package, imported without ``tacotron2/__init__.py`` (which needs torch)."""
    package = types.ModuleType("tacotron2")
    package.__path__ = [str(dle / "tacotron2")]  # type: ignore[attr-defined]
    sys.modules["tacotron2"] = package
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # DLE compares strings with "is not"
        from tacotron2 import text  # type: ignore[import-not-found]
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dle", type=Path, default=Path("/tmp/dle/PyTorch/SpeechSynthesis/Tacotron2"))
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/tacotron2/text_ref.json"))
    args = parser.parse_args()
    text = _import_dle_text(args.dle)
    from tacotron2.text.symbols import symbols  # type: ignore[import-not-found]
    from tacotron2.text.unidecoder import unidecoder  # type: ignore[import-not-found]

    if len(set(SENTENCES)) != len(SENTENCES):
        raise SystemExit("duplicate sentences")
    cases = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unidecoder warns about characters it has no form for
        for sentence in SENTENCES:
            cases.append({"text": sentence, "ids": text.text_to_sequence(sentence, ["english_cleaners"])})
        to_ascii = {
            chr(code): unidecoder(chr(code))
            for start, stop in RANGES
            for code in range(start, stop)
            if unicodedata.category(chr(code)) != "Cn"
        }
    reference = {
        "source": "NVIDIA DeepLearningExamples 729963dd47e7c8bd462ad10bfac7a7b0b604e6dd, "
        "PyTorch/SpeechSynthesis/Tacotron2/tacotron2/text, text_to_sequence(text, ['english_cleaners'])",
        "symbols": list(symbols),
        "cases": cases,
        "to_ascii": to_ascii,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(reference, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(cases)} cases, {len(symbols)} symbols, {len(to_ascii)} characters -> {args.out}")


if __name__ == "__main__":
    main()
