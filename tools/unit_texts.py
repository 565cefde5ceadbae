"""English sentences for the unit corpus, from text that is available offline (imported by unit_corpus.py).

Sources, all read from a root directory laid out like a Debian system (`/` where the packages are
installed, or a folder into which their .deb files were unpacked with `dpkg -x`):

- WordNet's usage examples (Debian `wordnet-base`: `usr/share/wordnet/data.{noun,verb,adj,adv}`, the quoted
  phrases after each gloss), capitalized and ended with a full stop;
- sentences from the fortune-cookie files (Debian `fortunes`, `fortunes-min`: `usr/share/games/fortunes`),
  from the general-interest files only, attributions dropped;
- sentences made here from templates with numbers, dates, times, money and measures written in digits and
  symbols (so sonorant's text normalizer reads them as it will at inference);
- the benchmark's own sentences (`sonorant.bench.texts`).

Only plain sentences are kept: 4 to 22 words, letters and ordinary punctuation, no quotes, brackets, dialogue
markers or digits (outside the templates).
"""

from __future__ import annotations

import random
import re
from pathlib import Path

FORTUNE_FILES = ("art", "education", "food", "fortunes", "goedel", "humorists", "kids", "law", "literature", "love",
                 "magic", "medicine", "miscellaneous", "news", "paradoxum", "people", "pets", "platitudes", "pratchett",
                 "science", "sports", "wisdom", "work")
"""Fortune files of general interest (computing jokes, poems, riddles and ASCII art are left out)."""

_PLAIN = re.compile(r"^[A-Z][A-Za-z ,;'\-]*[A-Za-z][.!?]$")
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_ABBREVIATION = re.compile(r"\b(Mr|Mrs|Ms|Dr|St|Jr|Sr|vs|etc|Prof|Gen|Col|Capt|Lt|Mt|No)\.$")
_WORDNET_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")


def _plain(sentence: str, min_words: int = 4, max_words: int = 22) -> str | None:
    """The sentence with whitespace collapsed if it is plain enough to keep, else None."""
    s = " ".join(sentence.split())
    if not _PLAIN.match(s) or "--" in s or "''" in s or _ABBREVIATION.search(s):
        return None
    words = s.split()
    if not min_words <= len(words) <= max_words:
        return None
    if sum(w.isupper() and len(w) > 1 for w in words) > 1:  # shouting, acronyms
        return None
    return s


def wordnet_examples(root: Path) -> list[str]:
    """WordNet's quoted usage examples as sentences (deduplicated, in file order)."""
    out: dict[str, None] = {}
    for name in _WORDNET_FILES:
        path = root / "usr/share/wordnet" / name
        for line in path.read_text(encoding="latin-1").splitlines():
            if line.startswith("  ") or "|" not in line:
                continue  # the licence header
            gloss = line.split("|", 1)[1]
            for example in re.findall(r'"([^"]+)"', gloss):
                s = example.strip().rstrip(";,").strip()
                if not s:
                    continue
                s = s[0].upper() + s[1:]
                if s[-1] not in ".!?":
                    s += "."
                kept = _plain(s)
                if kept:
                    out[kept] = None
    return list(out)


def fortune_sentences(root: Path) -> list[str]:
    """Sentences from the general-interest fortune files (deduplicated, in file order)."""
    out: dict[str, None] = {}
    folder = root / "usr/share/games/fortunes"
    for name in FORTUNE_FILES:
        path = folder / name
        if not path.is_file():
            continue
        for cookie in path.read_text(encoding="latin-1").split("\n%\n"):
            lines = [ln for ln in cookie.splitlines() if not ln.lstrip().startswith("--") and ln.strip() != "%"]
            if any(re.match(r"^\s*[A-Z][\w .]*:", ln) for ln in lines):
                continue  # dialogue or Q/A
            for s in _SPLIT.split(" ".join(lines)):
                kept = _plain(s)
                if kept:
                    out[kept] = None
    return list(out)


def check_sources(root: Path) -> None:
    """Raise FileNotFoundError naming what to install if a text source is missing under `root`."""
    wordnet = root / "usr/share/wordnet"
    missing = [str(wordnet / n) for n in _WORDNET_FILES if not (wordnet / n).is_file()]
    if not (root / "usr/share/games/fortunes/fortunes").is_file():
        missing.append(str(root / "usr/share/games/fortunes"))
    if missing:
        raise FileNotFoundError(
            f"text sources missing: {', '.join(missing)}. Install them (apt-get install wordnet-base fortunes "
            "fortunes-min) or unpack their .deb files (apt-get download ...; dpkg -x FILE DIR) and pass "
            "--text-root DIR")


# ------------------------------------------------------------------------------------- templates
_NAMES = ("Anna", "Ben", "Carla", "David", "Elena", "Frank", "Grace", "Henry", "Irene", "James", "Karen", "Leo",
          "Maria", "Nathan", "Olivia", "Peter", "Rachel", "Samuel", "Tina", "Victor")
_CITIES = ("Boston", "Denver", "Chicago", "Seattle", "Atlanta", "Dallas", "Portland", "Phoenix", "Miami", "Detroit",
           "London", "Paris", "Madrid", "Toronto", "Sydney", "Dublin", "Berlin", "Vienna", "Oslo", "Lisbon")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ITEMS = ("apples", "books", "chairs", "tickets", "candles", "lamps", "plates", "blankets", "pencils", "bottles")
_PLACES = ("library", "station", "museum", "bakery", "hospital", "post office", "harbor", "school", "market", "park")
_TEMPLATES = (
    "The train to {city} leaves at {time}.",
    "Please call me back before {time} on {day}.",
    "The meeting has been moved to {day}, {month} {dom}.",
    "{name} was born on {month} {dom}, {year}.",
    "We paid {money} for {n} {items} at the market.",
    "The temperature dropped to {small} degrees last night.",
    "Walk {n} blocks north and you will see the {place} on your left.",
    "There were {big} people at the concert on {day} night.",
    "The package weighs {decimal} kilograms.",
    "Chapter {n} begins on page {page}.",
    "{name} ran {small} miles in {minutes} minutes this morning.",
    "By {year}, the town had grown to {big} residents.",
    "Room {room} is on the {ordinal} floor, next to the elevator.",
    "The {place} opens at {time} and closes at {time2}.",
    "I will meet you at the {place} in {minutes} minutes.",
    "The final score was {n} to {n2}.",
    "Her flight from {city} lands at {time} on {month} {dom}.",
    "A new bicycle costs about {money} these days.",
    "The bridge is {big} feet long and {n} feet wide.",
    "Only {percent} percent of the tickets were sold by {day}.",
    "{name} bought {n} {items} and paid with a {bill} dollar bill.",
    "The library closes early on {month} {dom}.",
    "It took us {n} hours to drive from {city} to {city2}.",
    "The recipe needs {n} eggs and {decimal} cups of flour.",
    "The museum was founded in {year} and renovated in {year2}.",
)


def _time(rng: random.Random) -> str:
    hour, minute = rng.randint(1, 12), rng.choice((0, 0, 15, 30, 45, rng.randint(1, 59)))
    return f"{hour}:{minute:02d} {rng.choice(('a.m.', 'p.m.'))}" if minute else f"{hour} {rng.choice(('a.m.', 'p.m.'))}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def template_sentences(count: int, seed: int) -> list[str]:
    """`count` distinct sentences from the templates with random names, places, numbers, dates and times."""
    rng = random.Random(seed)
    out: dict[str, None] = {}
    attempts = 0
    while len(out) < count and attempts < count * 20:
        attempts += 1
        fill = {
            "name": rng.choice(_NAMES), "city": rng.choice(_CITIES), "city2": rng.choice(_CITIES),
            "month": rng.choice(_MONTHS), "day": rng.choice(_DAYS), "dom": rng.randint(1, 28),
            "year": rng.randint(1900, 2030), "year2": rng.randint(1950, 2030), "time": _time(rng), "time2": _time(rng),
            "money": f"${rng.randint(2, 900)}" + (f".{rng.randint(1, 99):02d}" if rng.random() < 0.4 else ""),
            "n": rng.randint(2, 12), "n2": rng.randint(0, 12), "items": rng.choice(_ITEMS),
            "place": rng.choice(_PLACES),
            "small": rng.randint(2, 40), "big": f"{rng.randint(1, 99)},{rng.randint(0, 999):03d}" if rng.random() < 0.5
            else str(rng.randint(120, 990)), "decimal": f"{rng.randint(1, 9)}.{rng.randint(1, 9)}",
            "page": rng.randint(10, 400), "minutes": rng.randint(5, 55), "room": rng.randint(100, 950),
            "ordinal": _ordinal(rng.randint(2, 30)), "percent": rng.randint(5, 95),
            "bill": rng.choice((5, 10, 20, 50, 100)),
        }
        text = rng.choice(_TEMPLATES).format(**fill)
        out[text[:-1] if text.endswith("..") else text] = None  # "at 6 a.m.." ends with one stop
    return list(out)


def build_texts(root: Path, sentences: int, heldout: int = 20, seed: int = 0,
                bench: tuple[str, ...] = ()) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(training texts, held-out texts), each {"text", "source"}. The held-out sentences (40 % WordNet, 40 %
    fortunes, 20 % templates) are drawn first and kept out of training, compared without case and punctuation.
    Training takes ~42 % WordNet, ~42 % fortunes, ~16 % templates (templates fill in if a source runs out),
    plus `bench`."""
    check_sources(root)
    rng = random.Random(seed)
    pools = {"wordnet": wordnet_examples(root), "fortunes": fortune_sentences(root),
             "template": template_sentences(max(sentences, 200) + heldout, seed + 1)}
    for pool in pools.values():
        rng.shuffle(pool)
    n_template = max(1, heldout // 5)
    n_wordnet = (heldout - n_template) // 2
    share = {"wordnet": n_wordnet, "fortunes": heldout - n_template - n_wordnet, "template": n_template}
    held = [{"text": pools[src].pop(), "source": src} for src, n in share.items() for _ in range(n)]
    seen = {_key(h["text"]) for h in held}
    train: list[dict[str, str]] = []

    def take(src: str, n: int) -> None:
        pool = pools[src]
        while n > 0 and pool:
            text = pool.pop()
            if _key(text) not in seen:
                seen.add(_key(text))
                train.append({"text": text, "source": src})
                n -= 1

    for text in bench:
        if _key(text) not in seen:
            seen.add(_key(text))
            train.append({"text": text, "source": "bench"})
    rest = max(0, sentences - len(train))
    take("wordnet", round(rest * 0.42))
    take("fortunes", round(rest * 0.42))
    take("template", sentences - len(train))
    rng.shuffle(train)
    return train[:sentences], held


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", text.lower()).strip()
