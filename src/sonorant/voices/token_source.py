"""The lazy model of a token voice: its token model paired with its codec (built on first use)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _digest(path: Path) -> str:
    from ..runtimes.cache import file_digest

    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return hashlib.sha256("+".join(f"{p.name}:{file_digest(p)}" for p in files).encode()).hexdigest()


def token_source(family: str, path: Path, codec: Path, max_tokens: int, build: Callable[[Path], Any]) -> Any:
    """A `LazyModel` of `TokenVoiceModel(family, build(path), load_codec(codec), max_tokens)`."""
    from ..runtimes.cache import LazyModel

    def digest() -> str:
        return hashlib.sha256(f"{_digest(path)}+{_digest(codec)}+{max_tokens}".encode()).hexdigest()

    def make() -> Any:
        from ..models.tokens.voice import TokenVoiceModel
        from .codecs import load_codec

        return TokenVoiceModel(family, build(path), load_codec(codec), max_tokens=max_tokens)

    return LazyModel(digest, make, f"{path} + {codec}")
