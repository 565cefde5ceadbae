"""The registry of text normalizers, one module per language.

A language is a module with a ``normalize(text: str) -> str`` function; adding one is adding its
module and one line to :data:`_MODULES`. Modules are imported on first use, so an unused
language costs nothing. Language codes are matched case-insensitively with ``_`` read as ``-``
("en_US" == "en-us"); a code that is not registered falls back to its primary subtag
("en-gb", "en-gb-x-rp" -> "en").
"""

from __future__ import annotations

import importlib
import threading
from types import ModuleType
from typing import Callable, Protocol, cast

from sonorant.errors import TextError

__all__ = ["LanguageNormalizer", "get_normalizer", "resolve", "supported_languages"]


class LanguageNormalizer(Protocol):
    """What a language module provides."""

    def normalize(self, text: str) -> str:
        """``text`` in its spoken form for this language."""
        ...


_MODULES: dict[str, str] = {
    "en": "sonorant.text.lang.en",
}
"""Canonical language code -> module implementing ``normalize(text) -> str``."""

_LOADED: dict[str, ModuleType] = {}
_LOCK = threading.Lock()


def supported_languages() -> list[str]:
    """The canonical codes of the registered languages, sorted."""
    return sorted(_MODULES)


def resolve(lang: object) -> str:
    """The canonical registered code for ``lang``; :class:`TextError` when there is none."""
    if not isinstance(lang, str):
        raise TextError(f"language must be a string such as 'en', got {type(lang).__name__}")
    code = lang.strip().lower().replace("_", "-")
    if code in _MODULES:
        return code
    primary = code.split("-", 1)[0]
    if primary in _MODULES:
        return primary
    raise TextError(
        f"no text normalizer for language {lang!r}; supported: {', '.join(supported_languages())} "
        "(regional variants such as 'en-us', 'en_US' or 'en-gb' map to their language)"
    )


def get_normalizer(lang: object) -> Callable[[str], str]:
    """The ``normalize`` function of the module registered for ``lang`` (imported on first use)."""
    code = resolve(lang)
    module = _LOADED.get(code)
    if module is None:
        with _LOCK:
            module = _LOADED.get(code)
            if module is None:
                module = importlib.import_module(_MODULES[code])
                _LOADED[code] = module
    return cast(LanguageNormalizer, module).normalize
