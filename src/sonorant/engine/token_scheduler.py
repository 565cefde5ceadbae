"""Cross-request batching for token families: one worker thread owns a `TokenEngine`, and the sentences
of concurrent requests share its decoding loops.

A request is a list of utterances (its sentences) and the silence after each, as for `Scheduler`, and
answers the same way: `submit` returns a `Ticket`, pieces go to the request's sink in order, `max_queue`
bounds the requests held. What differs is the unit of work: a token model generates a sentence's tokens
in one loop and its codec decodes them at once, so each step takes whole sentences and every sentence
is one piece (its silence appended).

Each step picks sentences of the waiting requests (`_pick`): the first sentence of streams that have no
audio yet goes ahead of everything else, alone with other such first sentences; otherwise requests take
turns, one sentence each, the longest without a turn first, then the next of each, up to `max_batch`
rows. Rows of a step share decoding settings (method, bound, sampling settings: `TokenEngine.decoding`,
those of the request whose turn it is), so they run as one loop; the seed travels per row, and a row's
tokens do not depend on what else is in the batch. A sentence that does not end within its bound
(`DecodeLimitError`) fails its own request only, with an error that names the sentence and the bound:
the batch's rows are then rerun one by one (the same tokens), so other requests are unaffected.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError, DecodeLimitError, SonorantError
from .engine import Utterance
from .tickets import Piece, SchedulerConfig, SchedulerObserver, Sink, Ticket
from .token_engine import TokenEngine
from .worker import BatchWorker

__all__ = ["TokenScheduler"]

_LOG = logging.getLogger(__name__)

_Result = np.ndarray | SonorantError | None
"""A row's tokens, the error that ended its request, or None (an earlier row of its request failed)."""


class _TokenRequest:
    def __init__(self, ticket: Ticket, engine: TokenEngine, utterances: Sequence[Utterance], gaps: Sequence[int],
                 sink: Sink) -> None:
        self.ticket = ticket
        self.engine = engine
        self.utterances = list(utterances)
        self.gaps = [int(g) for g in gaps]
        self.sink = sink
        self.next = 0  # first sentence not yet emitted
        self.served = -1  # the last step that took a sentence of it (turns go to the longest waiting)


class TokenScheduler(BatchWorker[_TokenRequest]):
    """Batches the sentences of concurrent requests through token engines on one worker thread."""

    thread_name = "sonorant-tokens"

    def __init__(self, config: SchedulerConfig | None = None, observer: SchedulerObserver | None = None) -> None:
        super().__init__(config, observer)
        self._steps = 0

    def submit(self, engine: TokenEngine, utterances: Sequence[Utterance], gaps: Sequence[int], *, sample_rate: int,
               streaming: bool, sink: Sink) -> Ticket:
        """Queue a request: its utterances in order and the silence (samples) after each.

        Each sentence's audio goes to `sink` as one piece, in order, as soon as it is decoded. Raises
        `SchedulerBusy` when `max_queue` requests are already held, `SchedulerClosed` after `close`.
        """
        if not utterances or len(gaps) != len(utterances):
            raise ConfigError("a request needs at least one utterance and one gap per utterance")
        if engine.spec.tokens is None:
            raise ConfigError(f"{engine.spec.family} is not a token family: its requests go to `Scheduler`")
        return self._enqueue(lambda ticket: _TokenRequest(ticket, engine, utterances, gaps, sink),
                             streaming=streaming, sentences=len(utterances), seed=utterances[0].seed,
                             sample_rate=sample_rate)

    # --- worker -----------------------------------------------------------------------------------

    def _step(self) -> bool:
        batch = self._pick()
        if not batch:
            return False
        self._run_batch(batch)
        return True

    def _pick(self) -> list[tuple[_TokenRequest, int]]:
        """The (request, sentence) rows of the next step (see the module's docstring)."""
        max_unread = self.config.max_unread_s
        ready: list[tuple[int, _TokenRequest]] = []
        for r in self._active:  # in order of arrival
            t = r.ticket
            if t.streaming and t.samples - t.samples_read > max_unread * t.sample_rate:
                continue  # its reader is far behind: let it catch up first
            ready.append((0 if t.streaming and t.pieces == 0 else 1, r))
        if not ready:
            return []
        urgent = min(c for c, _ in ready)
        waiting = sorted((r for c, r in ready if c == urgent), key=lambda r: (r.served, r.ticket.id))
        lead = waiting[0]  # the longest without a turn: settings other than the oldest request's get theirs
        engine, key = lead.engine, lead.engine.decoding(lead.utterances[lead.next])
        takers = [r for r in waiting if r.engine is engine and engine.decoding(r.utterances[r.next]) == key]
        rounds = 1 if urgent == 0 else self.config.max_batch  # first audio: first sentences only
        batch: list[tuple[_TokenRequest, int]] = []
        for depth in range(rounds):
            for r in takers:
                k = r.next + depth
                if k < len(r.utterances) and len(batch) < self.config.max_batch:
                    batch.append((r, k))
        self._steps += 1
        for r, _ in batch:
            r.served = self._steps
        return batch

    def _run_batch(self, batch: list[tuple[_TokenRequest, int]]) -> None:
        engine = batch[0][0].engine
        requests = list({id(r): r for r, _ in batch}.values())
        start = time.perf_counter()
        try:
            results = self._tokens(engine, batch)
        except Exception as exc:  # a failed loop fails its requests only; the server keeps serving
            _LOG.exception("a token decoding loop failed; its requests end with an error")
            for r in requests:
                self._finish(r, "failed", exc)
            return
        seconds = time.perf_counter() - start
        tokens = sum(len(x) for x in results if isinstance(x, np.ndarray))
        self._notify("on_batch", "tokens", len(batch), len(requests), tokens, seconds)
        codes: dict[int, np.ndarray] = {}
        for row, result in enumerate(results):
            if isinstance(result, np.ndarray):
                try:
                    codes[row] = engine.codes(result)
                except SonorantError as exc:  # tokens its codec cannot decode (TokenError): that request fails
                    results[row] = exc
        start = time.perf_counter()
        try:
            audio = dict(zip(codes, engine.audio(list(codes.values()), self.config.max_batch))) if codes else {}
        except Exception as exc:
            _LOG.exception("a codec pass failed; its requests end with an error")
            for r in requests:
                self._finish(r, "failed", exc)
            return
        if codes:
            frames = sum(c.shape[1] for c in codes.values())
            self._notify("on_batch", "vocode", len(codes), len({id(batch[row][0]) for row in codes}), frames,
                         time.perf_counter() - start)
        for row, (r, k) in enumerate(batch):  # each request's rows are in sentence order
            result = results[row]
            if r.ticket.done or result is None:
                continue
            if isinstance(result, SonorantError):
                self._finish(r, "failed", result)
                continue
            samples = audio[row]
            if r.gaps[k] > 0:
                samples = np.concatenate([samples, np.zeros(r.gaps[k], dtype=np.float32)])
            last = k == len(r.utterances) - 1
            r.ticket.frames_decoded += codes[row].shape[1]
            if not self._deliver(r, Piece(samples, k, last)):
                continue
            r.next = k + 1
            if last:
                self._finish(r, "done")

    def _tokens(self, engine: TokenEngine, batch: list[tuple[_TokenRequest, int]]) -> list[_Result]:
        """Each row's tokens; a row that does not end within its bound gets a `DecodeLimitError` naming its
        sentence, and the later rows of its request None."""
        try:
            return list(engine.tokens([r.utterances[k] for r, k in batch]))
        except DecodeLimitError as exc:
            if len(batch) == 1:
                r, k = batch[0]
                return [_limit_error(r, k, exc)]
            _LOG.info("a batch of %d sentences hit its token bound; running them one by one", len(batch))
        out: list[_Result] = []
        failed: set[int] = set()
        for r, k in batch:  # the same tokens alone: only the stuck sentence's request fails
            if id(r) in failed:
                out.append(None)
                continue
            try:
                out.append(engine.tokens([r.utterances[k]])[0])
            except DecodeLimitError as exc:
                out.append(_limit_error(r, k, exc))
                failed.add(id(r))
        return out


def _limit_error(r: _TokenRequest, k: int, exc: DecodeLimitError) -> DecodeLimitError:
    """The error a request gets when its sentence `k` did not end within the bound."""
    limit = getattr(exc, "limit", None)
    where = f"sentence {k + 1} of {len(r.utterances)}"
    if limit is None:  # refused before decoding (e.g. max_tokens past the model's positions)
        return DecodeLimitError(f"{where}: {exc}")
    err = DecodeLimitError(f"{where} did not end within {limit} tokens (max_tokens {limit}): raise max_tokens, "
                           "or split the text into shorter sentences")
    err.limit = limit  # type: ignore[attr-defined]
    return err
