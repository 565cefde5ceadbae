"""Cross-request batching for token families: one worker thread owns a `TokenEngine`, and the sentences
of concurrent requests share its decoding loops.

A request is a list of utterances (its sentences) and the silence after each, as for `Scheduler`, and
answers the same way: `submit` returns a `Ticket`, pieces go to the request's sink in order, `max_queue`
bounds the requests held. What differs is the unit of work: a token model generates a sentence's tokens
in one loop, so each step takes whole sentences, one row each.

Each step picks sentences of the waiting requests (`_pick`): the first sentence of streams that have no
audio yet goes ahead of everything else, alone with other such first sentences; otherwise requests take
turns, one sentence each, the longest without a turn first, then the next of each, up to `max_batch`
rows. Rows of a step share decoding settings (method, bound, sampling settings: `TokenEngine.decoding`,
those of the request whose turn it is), so they run as one loop; the seed travels per row, and a row's
tokens do not depend on what else is in the batch.

How a row's audio comes out depends on its request:

- a **streamed** request's sentence streams within the sentence: its step's loop runs watched
  (`TokenEngine.stream_tokens`, the same graphs and tokens), each read's new tokens feed the row's own
  codec stream (`TokenEngine.code_stream`, the `SchedulerConfig.stream` schedule: 16 frames first, then
  growing), and every chunk's audio goes to the sink as soon as it is decoded, the sentence's silence
  after its last piece. A stream gives one row per step, its next sentence (its pieces must stay in
  order), and every sentence of it streams so, each when it is that request's turn: later sentences too,
  so that a listener who has caught up with the audio hears the next sentence after one chunk, not after
  all its tokens (a token codec carries its state from chunk to chunk, so small chunks cost no extra
  context frames). Non-streamed rows may share the loop; theirs are decoded when it ends. The loop is
  checked after every read: a request cancelled (or whose consumer is gone) ends at once, and when no
  request of the loop is left the loop is closed, so its decoding stops within one read
  (`sync_every` steps).
- a **non-streamed** request's sentences run in plain batch loops (`TokenEngine.tokens`, several sentences
  of a request per loop when there is room) when no streamed row is in the step, and its codec decodes
  each row at once: one piece per sentence, its silence appended.

A sentence that does not end within its bound (`DecodeLimitError`) fails its own request only, with an
error that names the sentence and the bound: a plain loop's rows are then rerun one by one (the same
tokens), so other requests are unaffected; a streamed loop keeps the rows that ended (EOS) and fails the
others. A streamed sentence that hits the bound has sent the audio of every chunk completed before it,
so its error follows that audio (before any audio the HTTP front end still answers 422).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError, DecodeLimitError, SonorantError
from .engine import Utterance
from .tickets import Piece, SchedulerConfig, SchedulerObserver, Sink, Ticket
from .token_engine import TokenEngine
from .worker import BatchWorker

if TYPE_CHECKING:
    from ..runtimes.token_stream import CodeStream

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


@dataclass
class _Row:
    """One sentence of a streamed loop: its tokens so far and, for a streamed request, its codec stream."""

    request: _TokenRequest
    sentence: int
    audio: CodeStream | None = None
    reads: list[np.ndarray] = field(default_factory=list)

    def tokens(self) -> np.ndarray:
        return np.concatenate(self.reads) if self.reads else np.zeros(0, dtype=np.int64)


class TokenScheduler(BatchWorker[_TokenRequest]):
    """Batches the sentences of concurrent requests through token engines on one worker thread."""

    thread_name = "sonorant-tokens"

    def __init__(self, config: SchedulerConfig | None = None, observer: SchedulerObserver | None = None) -> None:
        super().__init__(config, observer)
        self._steps = 0

    def submit(self, engine: TokenEngine, utterances: Sequence[Utterance], gaps: Sequence[int], *, sample_rate: int,
               streaming: bool, sink: Sink) -> Ticket:
        """Queue a request: its utterances in order and the silence (samples) after each.

        Pieces go to `sink` in order: a streamed request's as each chunk of a sentence is decoded while its
        tokens are generated, a whole-file request's one per sentence. Raises `SchedulerBusy` when
        `max_queue` requests are already held, `SchedulerClosed` after `close`.
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
        if any(r.ticket.streaming for r, _ in batch):
            self._stream_batch(batch)
        else:
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
                if depth and r.ticket.streaming:
                    continue  # a stream's sentences stream one at a time, in order
                k = r.next + depth
                if k < len(r.utterances) and len(batch) < self.config.max_batch:
                    batch.append((r, k))
        self._steps += 1
        for r, _ in batch:
            r.served = self._steps
        return batch

    # --- plain loops: whole sentences -----------------------------------------------------------------

    def _run_batch(self, batch: list[tuple[_TokenRequest, int]]) -> None:
        engine = batch[0][0].engine
        start = time.perf_counter()
        try:
            results = self._tokens(engine, batch)
        except Exception as exc:  # a failed loop fails its requests only; the server keeps serving
            _LOG.exception("a token decoding loop failed; its requests end with an error")
            for r in _requests(batch):
                self._finish(r, "failed", exc)
            return
        seconds = time.perf_counter() - start
        tokens = sum(len(x) for x in results if isinstance(x, np.ndarray))
        self._notify("on_batch", "tokens", len(batch), len(_requests(batch)), tokens, seconds)
        self._decode_rows(engine, batch, results)

    def _decode_rows(self, engine: TokenEngine, batch: list[tuple[_TokenRequest, int]],
                     results: list[_Result]) -> None:
        """Each row's tokens through its codec, in one pass, and each sentence's audio (its silence appended)
        to its request's sink in order; a row's error fails its request."""
        codes: dict[int, np.ndarray] = {}
        for row, result in enumerate(results):
            if isinstance(result, np.ndarray) and not batch[row][0].ticket.done:
                try:
                    codes[row] = engine.codes(result)
                except SonorantError as exc:  # tokens its codec cannot decode (TokenError): that request fails
                    results[row] = exc
        start = time.perf_counter()
        try:
            audio = dict(zip(codes, engine.audio(list(codes.values()), self.config.max_batch))) if codes else {}
        except Exception as exc:
            _LOG.exception("a codec pass failed; its requests end with an error")
            for r in _requests(batch):
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
            r.ticket.frames_decoded += codes[row].shape[1]
            self._emit(r, k, audio[row], True)

    def _emit(self, r: _TokenRequest, k: int, samples: np.ndarray, end: bool) -> None:
        """A piece of sentence `k` to its request's sink (`end`: the sentence's last, its silence appended);
        the request moves on to its next sentence after its last piece, and ends after its last sentence's.
        An empty piece that ends nothing is not sent."""
        last = end and k == len(r.utterances) - 1
        if end and r.gaps[k] > 0:
            samples = np.concatenate([samples, np.zeros(r.gaps[k], dtype=np.float32)])
        if not samples.size and not last:
            if end:
                r.next = k + 1
            return
        if not self._deliver(r, Piece(samples, k, last)):
            return
        if end:
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

    # --- streamed loops: audio while the tokens are generated ------------------------------------------

    def _stream_batch(self, batch: list[tuple[_TokenRequest, int]]) -> None:
        """One watched loop over the rows: a streamed request's row plays each chunk as its tokens arrive,
        the other rows are decoded when the loop ends (see the module's docstring)."""
        engine = batch[0][0].engine
        requests = _requests(batch)
        rows = [_Row(r, k) for r, k in batch]
        start, codec = time.perf_counter(), 0.0
        error: DecodeLimitError | None = None
        loop = engine.stream_tokens([r.utterances[k] for r, k in batch])  # nothing runs before its first read
        try:
            for row in rows:
                if row.request.ticket.streaming:
                    row.audio = engine.code_stream(self.config.stream)
            for new in loop:
                for row, tokens in zip(rows, new):
                    row.reads.append(tokens)
                    if row.audio is not None:
                        codec += self._play(row, tokens)
                for r in requests:
                    if r.ticket.cancelled and not r.ticket.done:  # its client left: drop it now
                        self._finish(r, "cancelled")
                if all(r.ticket.done for r in requests) or self._closing:
                    _LOG.debug("closing a decoding loop after %d reads (no request of it is left, or the worker "
                               "stops)", len(rows[0].reads))
                    break
        except DecodeLimitError as exc:  # rows that ended are complete; the others failed
            error = exc
        except Exception as exc:  # a failed loop fails its requests only; the server keeps serving
            _LOG.exception("a streamed token decoding loop failed; its requests end with an error")
            for r in requests:
                self._finish(r, "failed", exc)
            return
        finally:
            loop.close()  # stops the loop's generator where it is (nothing more is decoded)
        tokens = sum(len(row.tokens()) for row in rows)
        self._notify("on_batch", "tokens", len(rows), len(requests), tokens, time.perf_counter() - start - codec)
        eos = engine.spec.tokens.eos
        results: list[_Result] = []
        for row in rows:
            got = row.tokens()
            ended = bool(got.size) and got[-1] == eos
            if error is not None and not ended and not row.request.ticket.done:
                results.append(_limit_error(row.request, row.sentence, error))
            else:
                results.append(got if ended else None)
            if row.audio is not None and isinstance(results[-1], SonorantError):
                self._finish(row.request, "failed", results[-1])
        plain = [i for i, row in enumerate(rows) if row.audio is None]
        if plain and not self._closing:
            self._decode_rows(engine, [batch[i] for i in plain], [results[i] for i in plain])

    def _play(self, row: _Row, tokens: np.ndarray) -> float:
        """A streamed row's new tokens through its codec stream, each completed chunk's audio to its sink;
        returns the seconds the codec took."""
        r = row.request
        assert row.audio is not None
        if r.ticket.done:
            return 0.0
        spent = 0.0
        pieces: Iterator[tuple[np.ndarray, bool]] | None = None
        while not r.ticket.done:
            start, frames = time.perf_counter(), row.audio.frames
            try:
                pieces = pieces or row.audio.feed(tokens)
                samples, end = next(pieces)
            except StopIteration:
                break
            except Exception as exc:  # tokens its codec cannot decode (TokenError), or a failed codec pass
                if not isinstance(exc, SonorantError):
                    _LOG.exception("a codec stream failed; its request ends with an error")
                self._finish(r, "failed", exc)
                break
            finally:
                spent += time.perf_counter() - start
            self._notify("on_batch", "vocode", 1, 1, row.audio.frames - frames, time.perf_counter() - start)
            r.ticket.frames_decoded += row.audio.frames - frames
            self._emit(r, row.sentence, samples, end)
        return spent


def _requests(batch: list[tuple[_TokenRequest, int]]) -> list[_TokenRequest]:
    """The distinct requests of a batch, in order."""
    return list({id(r): r for r, _ in batch}.values())


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
