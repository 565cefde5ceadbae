"""The thread behind every request scheduler: a bounded queue of requests, one worker thread that owns
the engines, and the life cycle they share (admission, waiting, cancellation, finishing, observers).

`scheduler.Scheduler` (stage-graph families) and `token_scheduler.TokenScheduler` (token families) say
what one step of work is; this base holds the rest, so both answer `submit`, `has_room`, `depth`,
`start` and `close` the same way.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from .tickets import Piece, SchedulerBusy, SchedulerClosed, SchedulerConfig, SchedulerObserver, Sink, Ticket

_LOG = logging.getLogger(__name__)


class _Held(Protocol):
    ticket: Ticket
    sink: Sink


R = TypeVar("R", bound=_Held)

_REQUEST_IDS = itertools.count(1)
"""Ticket ids, unique in the process: a server's schedulers (one per kind of voice) never share an id."""


class BatchWorker(ABC, Generic[R]):
    """Requests (anything with a `ticket` and a `sink`) queued for one worker thread that runs `_step`
    while any is active. Subclasses implement `_step` and may read `_active`."""

    thread_name = "sonorant-worker"

    def __init__(self, config: SchedulerConfig | None = None, observer: SchedulerObserver | None = None) -> None:
        self.config = config or SchedulerConfig()
        self.observer = observer
        self._cond = threading.Condition()
        self._incoming: list[R] = []
        self._active: list[R] = []
        self._admitted = 0
        self._closing = False
        self._thread: threading.Thread | None = None

    # --- public -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread (idempotent)."""
        with self._cond:
            if self._thread is None:
                self._closing = False
                self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
                self._thread.start()

    def close(self, timeout: float | None = 30.0) -> None:
        """Stop the worker after its current pass; unfinished requests get `SchedulerClosed`."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        with self._cond:
            self._thread = None

    @property
    def running(self) -> bool:
        """Whether the worker thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def depth(self) -> int:
        """Requests held now (running or waiting)."""
        return self._admitted

    def has_room(self) -> bool:
        """Whether a new request would be admitted now."""
        return self._admitted < self.config.max_queue

    # --- for subclasses ---------------------------------------------------------------------------

    def _enqueue(self, make: Callable[[Ticket], R], *, streaming: bool, sentences: int, seed: int,
                 sample_rate: int) -> Ticket:
        """Admit one request built by `make(ticket)`; SchedulerBusy when `max_queue` are held, SchedulerClosed
        when the worker is not running."""
        with self._cond:
            if self._closing or self._thread is None:
                raise SchedulerClosed("the speech scheduler is not running")
            if self._admitted >= self.config.max_queue:
                raise SchedulerBusy(f"server busy: {self._admitted} requests in progress (limit {self.config.max_queue})")
            ticket = Ticket(next(_REQUEST_IDS), streaming, sentences, seed, sample_rate)
            ticket._wake = self._wake
            self._incoming.append(make(ticket))
            self._admitted += 1
            self._cond.notify_all()
        return ticket

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    @abstractmethod
    def _step(self) -> bool:
        """Run one pass over the active requests; False when none has work that may run now."""

    def _run(self) -> None:
        while True:
            with self._cond:
                idle = not self._active
                while idle and not self._incoming and not self._closing:
                    self._cond.wait()
                if self._closing:
                    break
                if idle and self.config.batch_wait_ms > 0:
                    until = time.monotonic() + self.config.batch_wait_ms / 1000.0
                    while len(self._incoming) < self.config.max_batch and not self._closing:
                        left = until - time.monotonic()
                        if left <= 0:
                            break
                        self._cond.wait(left)
                new, self._incoming = self._incoming, []
            for r in new:
                r.ticket.status = "running"
                self._active.append(r)
            for r in [r for r in self._active if r.ticket.cancelled]:
                self._finish(r, "cancelled")
            if not self._active:
                continue
            try:
                worked = self._step()
            except Exception as exc:  # a bug in scheduling itself: fail what is running, keep the worker
                _LOG.exception("%s step failed", self.thread_name)
                for r in list(self._active):
                    self._finish(r, "failed", exc)
                continue
            if not worked:  # every request waits for its reader: sleep until one reads, cancels or arrives
                with self._cond:
                    if not self._incoming and not self._closing:
                        self._cond.wait(0.05)
        with self._cond:
            leftover, self._incoming = self._active + self._incoming, []
        self._active = []
        for r in leftover:
            self._finish(r, "failed", SchedulerClosed("the speech server is shutting down"))

    def _finish(self, r: R, status: str, error: BaseException | None = None) -> None:
        t = r.ticket
        if t.done:
            return
        t.status = status
        t.finished = time.monotonic()
        if r in self._active:
            self._active.remove(r)
        with self._cond:
            self._admitted -= 1
        if error is not None:
            try:
                r.sink(error)
            except Exception:  # the consumer is gone too; nothing more to tell it
                _LOG.debug("could not report the failure of request %d", t.id)
        self._notify("on_finish", t)

    def _deliver(self, r: R, piece: Piece) -> bool:
        """Hand one piece to the request's sink and count it; False (and the request cancelled and
        finished) if it was cancelled or its consumer is gone."""
        t = r.ticket
        if t.cancelled:
            self._finish(r, "cancelled")
            return False
        try:
            r.sink(piece)
        except Exception as exc:  # the consumer is gone: stop its work
            _LOG.debug("sink of request %d failed (%s); cancelling it", t.id, exc)
            t.cancel()
            self._finish(r, "cancelled")
            return False
        if t.first_audio is None:
            t.first_audio = time.monotonic()
        t.pieces += 1
        t.samples += len(piece.samples)
        self._notify("on_piece", t, t.pieces - 1, len(piece.samples))
        return True

    def _notify(self, hook: str, *args: object) -> None:
        if self.observer is None:
            return
        try:
            getattr(self.observer, hook)(*args)
        except Exception:  # observers are for metrics and tests; they never stop the worker
            _LOG.exception("scheduler observer %s failed", hook)
