"""Cross-request dynamic batching: one worker thread owns the engines, and the sentences of concurrent
requests share forward passes.

A request is a list of utterances (its sentences) and the silence after each. Every sentence takes one
*latent* pass (text encoder, durations, flows), batched with other requests' sentences, and then
*decode* passes over windows of its latent frames, batched with other windows: of the same id bucket or
window size on a static-shape runtime, of similar width on a dynamic one (see `_batch`). Streaming
requests use the small-first window schedule of `StreamConfig`, and the latent pass for their first
audio runs the flows over just the frames the first window needs (a *rest* pass completes them later);
whole-file requests use equal windows of the schedule's largest size, which carry little context
overhead. Every window carries the decoder's receptive field as context on both
sides, so the stitched audio equals `Engine.synthesize` (up to float rounding) whatever else shared
the pass. The passes themselves are in `passes`.

Each step runs one pass, chosen earliest-deadline-first: audio that starts `t` seconds into a request
is due `t` seconds after the request arrived (when a listener who started at once would need it). The
first audio of a streaming request goes ahead of everything else, so first audio stays fast under load
while streams that are ahead of their listeners wait. Other batches grow only while the pass's predicted
time (from the measured seconds per padded frame of each engine and stage) stays within `max_step_ms`,
which bounds how long new work waits behind a running pass on any hardware; passes for first audio
take up to `max_batch` rows, since one pass for several new streams ends sooner for the last of them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from . import passes
from .buckets import bucket_size
from .engine import Engine, Utterance
from .streaming import StreamConfig, Window, windows
from .tickets import (
    BlockingSink,
    Piece,
    SchedulerBusy,
    SchedulerClosed,
    SchedulerConfig,
    SchedulerObserver,
    Sink,
    Ticket,
)
from .worker import BatchWorker

__all__ = ["BlockingSink", "Piece", "Scheduler", "SchedulerBusy", "SchedulerClosed", "SchedulerConfig",
           "SchedulerObserver", "Sink", "Ticket"]

_LOG = logging.getLogger(__name__)

_FRAMES_PER_ID = 3.0
"""Starting guess of latent frames per phoneme id, before an engine's first latent pass measures it."""
_SECONDS_PER_FRAME = {"latent": 0.0005, "rest": 0.0003, "decode": 0.0015}
"""Starting guesses of a pass's seconds per padded latent frame (eager joe on a 2-core CPU), replaced
by running averages of each engine's measured passes."""


class _Sentence:
    """One utterance of a request: its latent once computed, its windows, and decoded pieces."""

    def __init__(self, index: int, utt: Utterance, gap: int) -> None:
        self.index = index  # position in its request
        self.utt = utt
        self.gap = gap
        self.frames: int | None = None
        self.latent: passes.Latent | None = None  # dropped once the sentence is emitted
        self.finished = False
        self.windows: list[Window] = []
        self.pending: list[int] = []  # window indices not yet decoded
        self.decoded: dict[int, np.ndarray] = {}
        self.emitted = 0

    @property
    def head_only(self) -> bool:
        """Whether only the first window's latent frames are known yet."""
        return self.latent is not None and self.latent.rest is not None


class _Request:
    def __init__(self, ticket: Ticket, engine: Engine, sentences: list[_Sentence], sink: Sink,
                 schedule: StreamConfig) -> None:
        self.ticket = ticket
        self.engine = engine
        self.sentences = sentences
        self.sink = sink
        self.schedule = schedule
        self.cursor = 0  # first sentence not fully emitted


@dataclass(order=True)
class _Item:
    """One unit of ready work: a sentence's latent pass, the rest of a streamed head's latent, or one
    decoder window."""

    priority: tuple[int, float, int]
    request: _Request = field(compare=False)
    sentence: _Sentence = field(compare=False)
    stage: str = field(compare=False, default="latent")
    window: int = field(compare=False, default=-1)


class Scheduler(BatchWorker[_Request]):
    """Batches the sentences of concurrent requests through their engines on one worker thread."""

    thread_name = "sonorant-scheduler"

    def __init__(self, config: SchedulerConfig | None = None, observer: SchedulerObserver | None = None) -> None:
        super().__init__(config, observer)
        self._frames_per_id: dict[int, float] = {}  # id(engine) -> running estimate
        self._cost: dict[tuple[int, str], float] = {}  # (id(engine), stage) -> seconds per padded frame

    def submit(self, engine: Engine, utterances: Sequence[Utterance], gaps: Sequence[int], *, sample_rate: int,
               streaming: bool, sink: Sink) -> Ticket:
        """Queue a request: its utterances in order and the silence (samples) after each.

        Pieces go to `sink` in order as they are decoded (streaming requests get a small first window).
        Raises `SchedulerBusy` when `max_queue` requests are already held, `SchedulerClosed` after `close`.
        """
        if not utterances or len(gaps) != len(utterances):
            raise ConfigError("a request needs at least one utterance and one gap per utterance")
        schedule = self.config.stream
        if not streaming:
            schedule = schedule.bulk()

        def make(ticket: Ticket) -> _Request:
            sentences = [_Sentence(i, u, int(g)) for i, (u, g) in enumerate(zip(utterances, gaps))]
            return _Request(ticket, engine, sentences, sink, schedule)

        return self._enqueue(make, streaming=streaming, sentences=len(utterances), seed=utterances[0].seed,
                             sample_rate=sample_rate)

    # --- worker -----------------------------------------------------------------------------------

    def _step(self) -> bool:
        """Run one pass; False when no request has work that may run now."""
        items = list(self._items())
        if not items:
            return False
        first = min(items)
        batch = self._batch(first, items)
        run = {"latent": self._run_latent, "rest": self._run_rest, "decode": self._run_decode}[first.stage]
        try:
            run(batch)
        except Exception as exc:  # a failed pass fails its requests only; the server keeps serving
            _LOG.exception("a forward pass failed; its requests end with an error")
            for r in {id(i.request): i.request for i in batch}.values():
                self._finish(r, "failed", exc)
        return True

    def _items(self) -> Iterator[_Item]:
        """Ready work of every active request with its priority (first audio, deadline, age)."""
        max_unread = self.config.max_unread_s
        for r in self._active:
            t = r.ticket
            if t.streaming and t.samples - t.samples_read > max_unread * t.sample_rate:
                continue  # its reader is far behind: let it catch up first
            hop = r.engine.hop
            offset = 0.0  # samples into the request's audio
            waiting_first = t.streaming and t.pieces == 0
            for index, s in enumerate(r.sentences):
                due = t.submitted + offset / t.sample_rate
                if s.finished:
                    offset += (s.frames or 0) * hop + s.gap
                    continue
                if s.frames is None:
                    first = waiting_first and index == 0
                    yield _Item((0 if first else 1, due, t.id), r, s, "latent")
                    offset += self._estimate_frames(r.engine, len(s.utt.ids)) * hop + s.gap
                    continue
                if s.head_only:
                    yield _Item((1, due, t.id), r, s, "rest")
                for k in s.pending:
                    if s.head_only and k > 0:
                        continue
                    w = s.windows[k]
                    first = waiting_first and index == 0 and k == 0
                    yield _Item((0 if first else 1, due + w.core_start * hop / t.sample_rate, t.id), r, s, "decode", k)
                offset += s.frames * hop + s.gap

    def _estimate_frames(self, engine: Engine, n_ids: int) -> float:
        return n_ids * self._frames_per_id.get(id(engine), _FRAMES_PER_ID)

    def _cost_of(self, engine: Engine, stage: str) -> float:
        return self._cost.get((id(engine), stage), _SECONDS_PER_FRAME[stage])

    def _learn_cost(self, engine: Engine, stage: str, frames: int, seconds: float) -> None:
        measured = seconds / max(1, frames)
        previous = self._cost.get((id(engine), stage), measured)
        self._cost[(id(engine), stage)] = 0.7 * previous + 0.3 * measured

    def _batch(self, first: _Item, items: list[_Item]) -> list[_Item]:
        """`first` and the most urgent items that can share its pass: same engine, stage and priority
        class; within `max_batch` and, unless they are first audio, within the pass's time budget. A
        static-shape runtime batches rows of one id bucket (latents) or window size (decode), which its
        graphs are built for; a dynamic one pads rows to the widest, so, first audio aside, it takes a row
        only while padding stays within `max_padding` of the pass (one wide row batched with narrow ones
        costs more than it saves)."""
        engine = first.request.engine
        static = engine.runtime.static_shapes
        if first.stage == "latent":
            edges = engine.buckets.id_edges
            bucket = bucket_size(len(first.sentence.utt.ids), edges)

            def fits(i: _Item) -> bool:
                return not static or bucket_size(len(i.sentence.utt.ids), edges) == bucket

            def frames(i: _Item) -> float:
                return self._estimate_frames(engine, len(i.sentence.utt.ids))
        elif first.stage == "rest":
            def fits(i: _Item) -> bool:
                return True

            def frames(i: _Item) -> float:
                return float(i.sentence.frames or 0)
        else:
            size = first.sentence.windows[first.window].size

            def fits(i: _Item) -> bool:
                return not static or i.sentence.windows[i.window].size == size

            def frames(i: _Item) -> float:
                return float(engine.decode_width(i.sentence.windows[i.window]))
        same = sorted(i for i in items if i.stage == first.stage and i.request.engine is engine
                      and i.priority[0] == first.priority[0] and fits(i))
        budget = float("inf")  # first audio: every row is urgent, and one pass for several ends sooner for the last
        if first.priority[0] != 0:
            budget = self.config.max_step_ms / 1000.0 / self._cost_of(engine, first.stage)
        least_useful = 0.0 if static or first.priority[0] == 0 else 1.0 - self.config.max_padding
        batch: list[_Item] = []
        widest = useful = 0.0
        for item in same:
            if len(batch) >= self.config.max_batch:
                break
            width = frames(item)
            padded = max(widest, width) * (len(batch) + 1)
            if batch and (padded > budget or useful + width < least_useful * padded):
                continue  # a narrower (or wider) row further down may still fit
            batch.append(item)
            widest, useful = max(widest, width), useful + width
        return batch

    def _run_latent(self, batch: list[_Item]) -> None:
        engine = batch[0].request.engine
        utts = [i.sentence.utt for i in batch]
        start = time.perf_counter()
        if batch[0].priority[0] == 0:  # first audio: the flows over just the first window's frames
            stops = [i.request.schedule.first_frames + engine.context for i in batch]
            results = passes.head_latents(engine, utts, stops)
        else:
            results = passes.latents(engine, utts)
        seconds = time.perf_counter() - start
        for item, latent in zip(batch, results):
            s = item.sentence
            s.latent, s.frames = latent, latent.frames
            s.windows = list(windows(latent.frames, engine.context, self._schedule(item.request, s)))
            s.pending = list(range(len(s.windows)))
            r = item.request
            if all(x.frames is not None for x in r.sentences):
                r.ticket.frames_total = sum(x.frames or 0 for x in r.sentences)
        frames = [x.frames for x in results]
        measured = sum(frames) / max(1, sum(len(u.ids) for u in utts))
        previous = self._frames_per_id.get(id(engine), measured)
        self._frames_per_id[id(engine)] = 0.8 * previous + 0.2 * measured
        padded = max(x.z.shape[-1] for x in results) * len(batch)
        if batch[0].priority[0] != 0:
            self._learn_cost(engine, "latent", engine.frame_width(max(frames)) * len(batch), seconds)
        self._observe_batch("latent", batch, padded, seconds)

    @staticmethod
    def _schedule(r: _Request, s: _Sentence) -> StreamConfig:
        """Window schedule of sentence `s`: the request's, relaxed to equal windows once the audio before
        `s` is known to be long enough (`StreamConfig.for_offset`). Walks back only until it is: the
        sentences just before `s` usually settle it, so long requests cost no quadratic scan."""
        enough = r.schedule.relax_after_s * r.ticket.sample_rate  # samples
        samples = 0
        for k in range(s.index - 1, -1, -1):
            x = r.sentences[k]
            if x.frames is None:  # unknown audio before `s`: keep the request's own schedule
                return r.schedule
            samples += x.frames * r.engine.hop + x.gap
            if samples >= enough:
                return r.schedule.bulk()
        return r.schedule.for_offset(samples / r.ticket.sample_rate)

    def _run_rest(self, batch: list[_Item]) -> None:
        engine = batch[0].request.engine
        heads = [i.sentence.latent for i in batch]
        start = time.perf_counter()
        full = passes.rest_latents(engine, heads)
        seconds = time.perf_counter() - start
        for item, head, z in zip(batch, heads, full):
            item.sentence.latent = passes.Latent(head.frames, z, head.g)
        padded = engine.frame_width(max(h.frames for h in heads)) * len(batch)
        self._learn_cost(engine, "rest", padded, seconds)
        self._observe_batch("rest", batch, padded, seconds)

    def _run_decode(self, batch: list[_Item]) -> None:
        engine = batch[0].request.engine
        rows = [(i.sentence.latent.z, i.sentence.latent.g, i.sentence.windows[i.window]) for i in batch]
        start = time.perf_counter()
        audio = engine.decode(rows)
        seconds = time.perf_counter() - start
        for item, piece in zip(batch, audio):
            w = item.sentence.windows[item.window]
            item.sentence.decoded[item.window] = piece
            item.sentence.pending.remove(item.window)
            item.request.ticket.frames_decoded += w.core_stop - w.core_start
        padded = max(engine.decode_width(w) for _, _, w in rows) * len(batch)
        self._learn_cost(engine, "decode", padded, seconds)
        self._observe_batch("decode", batch, padded, seconds)
        for r in {id(i.request): i.request for i in batch}.values():
            self._emit(r)

    def _emit(self, r: _Request) -> None:
        """Hand the request's decoded pieces to its sink, in order; finish it after the last one."""
        while r.cursor < len(r.sentences):
            s = r.sentences[r.cursor]
            if s.frames is None:
                return
            while s.emitted < len(s.windows) and s.emitted in s.decoded:
                samples = s.decoded.pop(s.emitted)
                s.emitted += 1
                end_of_sentence = s.emitted == len(s.windows)
                if end_of_sentence and s.gap > 0:
                    samples = np.concatenate([samples, np.zeros(s.gap, dtype=np.float32)])
                last = end_of_sentence and r.cursor == len(r.sentences) - 1
                if not self._deliver(r, Piece(samples, r.cursor, last)):
                    return
            if s.emitted < len(s.windows):
                return
            s.latent, s.finished = None, True  # free the latent of a finished sentence
            r.cursor += 1
        self._finish(r, "done")

    def _observe_batch(self, stage: str, batch: list[_Item], frames: int, seconds: float) -> None:
        requests = len({id(i.request) for i in batch})
        self._notify("on_batch", stage, len(batch), requests, frames, seconds)
