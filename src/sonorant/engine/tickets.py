"""The scheduler's public types: its settings, a request's ticket and pieces, sinks and observers.

`sonorant.engine.scheduler` re-exports all of them; see there for how requests are scheduled.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..errors import ConfigError, SonorantError
from .streaming import StreamConfig


class SchedulerBusy(SonorantError):
    """The scheduler already holds `max_queue` requests; the caller should retry later."""


class SchedulerClosed(SonorantError):
    """The scheduler shut down before the request finished."""


@dataclass(frozen=True)
class SchedulerConfig:
    """Limits and window schedules of cross-request batching."""

    max_batch: int = 4
    """Most rows (sentences or decoder windows) in one forward pass."""
    max_queue: int = 64
    """Most requests held at once, running or waiting; `submit` refuses more with `SchedulerBusy`."""
    batch_wait_ms: float = 5.0
    """How long an idle worker waits for more requests to arrive before its first pass (0: none)."""
    stream: StreamConfig = StreamConfig()
    """Window schedule of streaming requests; whole-file requests use windows of its `max_frames`."""
    max_step_ms: float = 300.0
    """Target wall time of one pass: a batch grows only while its predicted time stays within this (it
    always holds at least one row; first-audio passes are exempt). Bounds how long a new request's first
    audio waits behind a pass."""
    max_padding: float = 0.15
    """Runtimes with dynamic shapes: the most fraction of a batched pass that may be padding (rows are
    padded to the widest), except in first-audio passes. Batching two rows saves about 20 % per frame on
    a 2-core CPU, so more padding than that would cost more than it saves."""
    max_unread_s: float = 30.0
    """A streaming request whose reader is this many seconds of audio behind gets no more work until
    it reads (`Ticket.read`), so a slow client holds back its own audio, not the server's memory."""

    def __post_init__(self) -> None:
        for name in ("max_batch", "max_queue"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if not 0 <= self.batch_wait_ms <= 10_000:
            raise ConfigError(f"batch_wait_ms must be in 0..10000, got {self.batch_wait_ms!r}")
        if not 0 < self.max_step_ms <= 60_000:
            raise ConfigError(f"max_step_ms must be in (0, 60000], got {self.max_step_ms!r}")
        if not 0 <= self.max_padding < 1:
            raise ConfigError(f"max_padding must be in [0, 1), got {self.max_padding!r}")
        if not self.max_unread_s > 0:
            raise ConfigError(f"max_unread_s must be > 0, got {self.max_unread_s!r}")


@dataclass(frozen=True)
class Piece:
    """Audio of one request, in order: one decoder window (the sentence's silence follows its last one)."""

    samples: np.ndarray
    """Float32 mono samples in [-1, 1]."""
    sentence: int
    """Index of the utterance this piece belongs to."""
    is_last: bool
    """True for the request's final piece."""


Sink = Callable[[Piece | BaseException], None]
"""Receives a request's pieces in order, or the exception that ended it; called on the worker thread."""


class SchedulerObserver(Protocol):
    """Hooks for metrics and tests, called on the worker thread (they must not raise)."""

    def on_batch(self, stage: str, rows: int, requests: int, frames: int, seconds: float) -> None:
        """A forward pass ran: `stage` is "latent", "rest" (the rest of a streamed head's latent) or
        "decode"; `frames` are its padded latent frames."""

    def on_piece(self, ticket: Ticket, index: int, samples: int) -> None:
        """The `index`-th piece (0-based) of a request was handed to its sink."""

    def on_finish(self, ticket: Ticket) -> None:
        """A request ended; `ticket.status` says how (done, cancelled, failed)."""


class Ticket:
    """A submitted request: cancel it from any thread, or read its progress (written by the worker)."""

    def __init__(self, request_id: int, streaming: bool, n_sentences: int, seed: int, sample_rate: int) -> None:
        self.id = request_id
        self.streaming = streaming
        self.n_sentences = n_sentences
        self.seed = seed
        """Noise seed of the first utterance (sentence i uses seed + i)."""
        self.sample_rate = sample_rate
        self.submitted = time.monotonic()
        self.first_audio: float | None = None
        """`time.monotonic()` when the first piece went to the sink."""
        self.finished: float | None = None
        self.status = "queued"
        """queued, running, done, cancelled or failed."""
        self.frames_total: int | None = None
        """Latent frames of the whole request, once every sentence's latent pass ran."""
        self.frames_decoded = 0
        """Latent frames whose audio was decoded (window cores)."""
        self.pieces = 0
        self.samples = 0
        """Samples handed to the sink, silence included."""
        self.samples_read = 0
        """Samples the reader has taken (see `read`)."""
        self._cancel = threading.Event()
        self._wake: Callable[[], None] = lambda: None

    def read(self, samples: int) -> None:
        """The reader took `samples` more samples from the sink (streaming requests whose reader falls
        `max_unread_s` behind wait for it); call from the reader's thread."""
        self.samples_read += samples
        self._wake()

    def cancel(self) -> None:
        """Stop this request: the worker drops its remaining work before its next pass."""
        self._cancel.set()
        self._wake()

    @property
    def cancelled(self) -> bool:
        """Whether `cancel` was called."""
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        """Whether the request has ended (done, cancelled or failed)."""
        return self.status in ("done", "cancelled", "failed")

    def __repr__(self) -> str:
        return f"Ticket({self.id}, {self.status}, streaming={self.streaming}, pieces={self.pieces})"


class BlockingSink:
    """A sink for synchronous callers: iterate it to get a request's pieces (exceptions re-raised).

    Set `ticket` to the ticket `submit` returned so that a streaming request counts what is read
    (`Ticket.read`); otherwise it stops getting work once `max_unread_s` of audio waits unread.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Piece | BaseException] = queue.SimpleQueue()
        self.ticket: Ticket | None = None

    def __call__(self, item: Piece | BaseException) -> None:
        self._queue.put(item)

    def __iter__(self) -> Iterator[Piece]:
        while True:
            item = self._queue.get()
            if isinstance(item, BaseException):
                raise item
            if self.ticket is not None:
                self.ticket.read(len(item.samples))
            yield item
            if item.is_last:
                return

    def audio(self) -> np.ndarray:
        """All pieces joined (blocks until the request ends)."""
        parts = [p.samples for p in self]
        return np.concatenate(parts).astype(np.float32, copy=False)
