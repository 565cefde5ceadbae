"""A text pipeline whose every plan's ids end with fixed ids (a model's text EOS, as Spear-TTS appends)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from ..errors import TextError


class SuffixPipeline:
    """Wraps a `TextPipeline`: the same plans, their ids followed by `suffix` (and checked below `limit`)."""

    def __init__(self, inner: Any, suffix: Sequence[int], limit: int | None = None) -> None:
        self.inner = inner
        self.suffix = tuple(suffix)
        self.limit = limit

    def _fix(self, plan: Any) -> Any:
        ids = [*plan.ids, *self.suffix]
        if self.limit is not None:
            bad = [i for i in plan.ids if not 0 <= i < self.limit]
            if bad:
                raise TextError(f"the front end made ids {bad[:5]} outside the model's {self.limit} text ids: this "
                                "front end does not fit the checkpoint (choose another frontend)")
        return replace(plan, ids=ids)

    def plan(self, text: str) -> list[Any]:
        """The inner pipeline's plans with the suffix."""
        return [self._fix(p) for p in self.inner.plan(text)]

    def iter_plans(self, text: str) -> Iterator[Any]:
        """Plans one at a time, with the suffix."""
        for p in self.inner.iter_plans(text):
            yield self._fix(p)

    def analyze(self, text: str) -> str:
        """The inner pipeline's trace (the suffix is the model's, not the text's)."""
        return self.inner.analyze(text)
