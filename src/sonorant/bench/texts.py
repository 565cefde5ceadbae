"""The benchmark's texts: a fixed default set of varied English sentences and a paragraph for time to first audio.

The default set is fixed so runs on different days and machines measure the same work: short to long,
statements and questions, numbers written as words (so no text normaliser is exercised or needed).
`load_texts` reads a user's own set, one text per line.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError

DEFAULT_TEXTS: tuple[str, ...] = (
    "Hello there.",
    "Good morning!",
    "Is it raining outside?",
    "Please close the door behind you.",
    "The quick brown fox jumps over the lazy dog.",
    "Where did you put the keys to the car?",
    "She sells sea shells by the sea shore.",
    "Our train leaves at a quarter past seven tomorrow morning.",
    "Twenty three people signed up for the workshop, but only nine came.",
    "Could you tell me how to get to the nearest library, please?",
    "The recipe calls for two cups of flour and three quarters of a cup of sugar.",
    "In nineteen sixty nine, two astronauts walked on the surface of the moon.",
    "Why do leaves change colour in the autumn, and why do some trees keep theirs all winter?",
    "The museum is open from nine in the morning until five in the evening, except on Mondays.",
    "After the storm had passed, the fishermen dragged their boats back down to the water.",
    "Do you think we will finish the project before the end of the month, or should we ask for more time?",
    "A thousand years ago, this valley was covered by a glacier that slowly carved the cliffs you see today.",
    "My grandmother turned ninety one last week, and she still walks four miles every single morning.",
    "When the orchestra began to play, the audience fell silent, and even the children stopped whispering to one "
    "another.",
    "The committee reviewed forty two proposals over three days, argued about most of them, and in the end "
    "approved only five.",
    "If you follow the river north for about six kilometres, you will reach an old stone bridge where the path splits "
    "in two.",
    "Scientists measured the temperature of the lake every hour for a whole year, and they found that it warmed by "
    "nearly half a degree.",
)
"""Twenty two sentences, from two words to about twenty five, including questions and numbers spelled as words."""

PARAGRAPH: str = (
    "The lighthouse stood at the edge of the cliff for more than two hundred years. Every evening, the keeper climbed "
    "the one hundred and twelve steps to light the lamp, and every morning he climbed them again to put it out. Ships "
    "passing in the night depended on that steady beam to steer clear of the rocks below. When the storms came in "
    "winter, the waves rose so high that spray reached the windows at the very top. The keeper kept a logbook in which "
    "he wrote down the weather, the ships he saw, and the birds that rested on the railing. Years later, when the lamp "
    "was finally replaced by an automatic light, the logbook was given to the town museum. Visitors still read its "
    "pages today, and many of them wonder what it must have been like to live alone above the sea, watching the "
    "horizon and waiting for the dawn."
)
"""About 150 words in eight sentences: the input for time to first audio (a streaming reply's first chunk)."""


def load_texts(path: str | Path) -> list[str]:
    """One text per line from a UTF-8 file; blank lines are skipped. ConfigError if missing or empty."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"texts file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"texts file {path} is not UTF-8 text: {exc}") from None
    texts = [line.strip() for line in raw.splitlines() if line.strip()]
    if not texts:
        raise ConfigError(f"texts file {path} has no texts: give one text per line (blank lines are skipped)")
    return texts

LONG_TEXT: str = PARAGRAPH + (
    " The museum opened a new wing on March 3, 2021, and the logbook now lies in a glass case beside the old lens,"
    " which weighs about 2,400 pounds. Guided tours start at 10:30 a.m. and cost $12 for adults."
)
"""About a thousand characters of mixed prose (the lighthouse paragraph, then dates, numbers and money):
the long input of the command-line comparison with Piper (`python -m sonorant.bench.startup`)."""

ONE_LINE: str = "The quick brown fox jumps over the lazy dog."
"""The short input of the command-line comparison with Piper."""


PLAIN_SENTENCES: tuple[str, ...] = (
    "The weather is nice today.",
    "Please close the door when you leave.",
    "She bought fresh bread at the market.",
    "My brother plays the guitar every evening.",
    "We should plant more trees in the park.",
    "The train was late again this morning.",
    "Could you help me carry these boxes?",
    "The children laughed at the funny clown.",
    "He reads a book before going to sleep.",
    "Our team won the game last night.",
    "The river flows gently through the valley.",
    "Turn left at the next traffic light.",
)
"""Short everyday sentences without numbers or abbreviations: the intelligibility checks' reference texts."""
