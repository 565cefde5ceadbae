"""The ByT5 byte front end (toktts' text input): each UTF-8 byte of the text is one id.

Ids: 0 pad, 1 EOS, 2 unknown (never produced here), 3 + b for the byte b (3..258); ByT5's vocabulary
also counts 125 sentinel ids (259..383), hence 384 rows in toktts' encoder embedding. A text becomes its
bytes + 3 followed by one EOS; there is no BOS, no normalization and no case folding, as in toktts (its
model reads the text exactly as written).

One deliberate difference from Hugging Face's ``ByT5Tokenizer``: that tokenizer also parses the markers
``</s>``, ``<pad>``, ``<unk>`` and ``<extra_id_N>`` written in the text into their control ids (with
version-dependent whitespace stripping around some of them, and no EOS added after a trailing ``</s>``).
Here text is always text: such a marker is spelled out byte by byte. On any text without these markers
the ids are identical to the tokenizer's.
"""

from __future__ import annotations

from collections.abc import Sequence

from sonorant.errors import TextError

__all__ = ["EOS", "OFFSET", "PAD", "UNK", "VOCAB", "ByteTokenizer", "byte_pipeline", "decode", "encode", "pad_batch"]

PAD = 0
"""Padding id (ByT5's ``<pad>``)."""
EOS = 1
"""End of text (ByT5's ``</s>``), appended to every text."""
UNK = 2
"""ByT5's ``<unk>`` (no text maps to it: every byte has its own id)."""
OFFSET = 3
"""Byte b has id b + OFFSET."""
VOCAB = 384
"""ByT5's vocabulary size: 3 control ids, 256 bytes and 125 sentinel ids."""


def encode(text: str, *, max_ids: int | None = None) -> list[int]:
    """The ids of `text`: its UTF-8 bytes + 3, then EOS (the empty text is just [EOS]).

    `max_ids` bounds the result, EOS included: a longer text raises `TextError` (never a silent cut)."""
    if not isinstance(text, str):
        raise TextError(f"text must be a string, not {type(text).__name__}")
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise TextError(f"text cannot be written as UTF-8 (character {text[e.start]!r} at {e.start}: "
                        "a lone surrogate)") from None
    ids = [b + OFFSET for b in raw]
    ids.append(EOS)
    if max_ids is not None and len(ids) > max_ids:
        raise TextError(f"text is {len(raw)} UTF-8 bytes; this model reads at most {max_ids - 1} "
                        "(split it into shorter sentences)")
    return ids


def decode(ids: Sequence[int]) -> str:
    """The text of byte ids up to the first EOS (pads skipped; bytes that are not valid UTF-8 become U+FFFD)."""
    raw = bytearray()
    for i in ids:
        i = int(i)
        if i == EOS:
            break
        if i == PAD:
            continue
        if not OFFSET <= i < OFFSET + 256:
            raise TextError(f"id {i} is not a byte id (bytes are {OFFSET}..{OFFSET + 255})")
        raw.append(i - OFFSET)
    return raw.decode("utf-8", errors="replace")


def pad_batch(rows: Sequence[Sequence[int]], width: int | None = None) -> tuple[list[list[int]], list[int]]:
    """Rows of ids -> (the rows right-padded with PAD to `width` (default: the longest), their lengths)."""
    lengths = [len(r) for r in rows]
    width = max(lengths, default=0) if width is None else width
    if lengths and max(lengths) > width:
        raise TextError(f"a row of {max(lengths)} ids does not fit a width of {width}")
    return [list(r) + [PAD] * (width - len(r)) for r in rows], lengths


class ByteTokenizer:
    """The byte front end as a `text.pipeline.Tokenizer`: symbols are the sentence's characters, ids their
    UTF-8 bytes + `offset`, then `eos` (toktts' input: offset 3, EOS 1)."""

    separator = ""

    def __init__(self, offset: int = OFFSET, eos: int | None = EOS) -> None:
        self.offset, self.eos = offset, eos

    def symbols(self, text: str) -> list[str]:
        """The characters of one sentence's text."""
        return list(text)

    def symbol_ids(self, symbols: Sequence[str]) -> list[int]:
        """The ids of a run of characters (with the closing EOS)."""
        ids = [b + self.offset for b in "".join(symbols).encode("utf-8")]
        return ids + ([self.eos] if self.eos is not None else [])

    def max_symbols(self, max_ids: int) -> int:
        """Characters that surely fit `max_ids` ids (a character is at most 4 bytes, plus the EOS)."""
        return max(1, (max_ids - 1) // 4)


def byte_pipeline(normalize: bool, max_ids: int, offset: int = OFFSET, eos: int | None = EOS):  # noqa: ANN201
    """The text pipeline of a byte-input voice: sonorant's English normalizer when `normalize` (numbers,
    dates, ... as words; toktts itself reads text as written, which `normalize_text=False` keeps), then
    `ByteTokenizer(offset, eos)`."""
    from functools import partial

    from . import normalizer as norm
    from .pipeline import TextPipeline

    normalizer = partial(norm.normalize, lang="en") if normalize else norm.identity
    return TextPipeline.for_tokenizer(ByteTokenizer(offset, eos), normalizer=normalizer, max_ids=max_ids, lang="en")
