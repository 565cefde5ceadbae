"""Text front ends of the trainer: a manifest line's text -> ids, and generated ids -> manifest fields.

"bytes" is toktts's input: ByT5 ids (each UTF-8 byte + 3; 0 pad, 1 EOS, 2 unknown), with EOS 1 appended when
the text is the model's source. "phonemes" takes each line's precomputed `phonemes` id list as is. More can be
added with `register_frontend` (the config's data.frontend names one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class FrontEnd(Protocol):
    """What the trainer needs of a text front end."""

    name: str
    """Its name in the config (data.frontend)."""
    version: int
    """Bumped when its ids change, so caches built with an older version are rebuilt."""
    vocab_size: int | None
    """Ids are below this (None: not fixed by the front end; the model's vocabulary decides)."""
    source_suffix: tuple[int, ...]
    """Ids appended when the text is the model's source (ByT5's EOS); as a target the model's EOS ends it."""

    def encode(self, record: Mapping[str, Any]) -> list[int]:
        """The ids of a manifest line (ValueError with a message if the line has no usable text)."""
        ...

    def decode(self, ids: Sequence[int]) -> dict[str, Any]:
        """Manifest fields for generated ids (pseudo-labelling): {"text": ...} or {"phonemes": [...]}."""
        ...


BYTE_OFFSET = 3
"""ByT5 ids are UTF-8 bytes + 3 (0 pad, 1 EOS, 2 unknown come first)."""
BYTE_EOS = 1
"""ByT5's end-of-sequence id."""


@dataclass(frozen=True)
class ByteFrontEnd:
    """UTF-8 bytes as ByT5 ids (toktts): no normalization, no phonemizer."""

    name: str = "bytes"
    version: int = 1
    vocab_size: int | None = 384
    source_suffix: tuple[int, ...] = (BYTE_EOS,)

    def encode(self, record: Mapping[str, Any]) -> list[int]:
        """ids = each UTF-8 byte of record["text"] + 3."""
        text = record.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValueError('needs a non-empty "text" string')
        return [b + BYTE_OFFSET for b in text.encode("utf-8")]

    def decode(self, ids: Sequence[int]) -> dict[str, Any]:
        """{"text": the bytes decoded as UTF-8} (special ids skipped; broken UTF-8 becomes U+FFFD)."""
        data = bytes(i - BYTE_OFFSET for i in ids if BYTE_OFFSET <= i < BYTE_OFFSET + 256)
        return {"text": data.decode("utf-8", errors="replace")}


@dataclass(frozen=True)
class PhonemeIdFrontEnd:
    """Precomputed phoneme ids from the manifest (`"phonemes": [ids]`), e.g. from `sonorant.text`."""

    name: str = "phonemes"
    version: int = 1
    vocab_size: int | None = None
    source_suffix: tuple[int, ...] = ()

    def encode(self, record: Mapping[str, Any]) -> list[int]:
        """record["phonemes"], checked to be a non-empty list of ids >= 0."""
        ids = record.get("phonemes")
        if (not isinstance(ids, list) or not ids
                or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ids)):
            raise ValueError('needs "phonemes": a non-empty list of integer ids >= 0')
        return list(ids)

    def decode(self, ids: Sequence[int]) -> dict[str, Any]:
        """{"phonemes": ids}."""
        return {"phonemes": [int(i) for i in ids]}


FRONTENDS: dict[str, FrontEnd] = {"bytes": ByteFrontEnd(), "phonemes": PhonemeIdFrontEnd()}
"""Front ends by name."""


def register_frontend(frontend: FrontEnd) -> None:
    """Make `frontend` available as data.frontend = frontend.name."""
    FRONTENDS[frontend.name] = frontend
