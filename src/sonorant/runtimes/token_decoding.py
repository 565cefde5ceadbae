"""Generating tokens with a token model (`models.tokens`): greedy, sampling, beam search and speculative
decoding, every step a fixed-shape call on a static cache.

A batch is one bucket: rows (x beams), source width and target slots fixed, so each graph (`encode`,
`step`, `draft`, `verify`, `beam_step`, `reorder`) is built once per bucket on compile or XLA and every
later call reuses it. Rows advance at their own positions (`pos` [b]): a row that finished keeps running
harmlessly until the whole batch is done, and speculative rows that accept different numbers of drafts
simply move their own `pos` (rolling back a rejected draft costs nothing: slots past `pos` are never
read). The host reads back one small array per block of steps (the rows' live flags), never logits.

`stream` runs the same loops and also reads the token buffer back at each of those reads, yielding each
row's new tokens as they become final (greedy, sampling, speculative): the same graphs, shapes and tokens
as `generate`. Beam search cannot stream (the best hypothesis can change until the search ends): its
`stream` yields every row's tokens once, after the search.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import torch

from ..config import Decoding
from ..engine.buckets import bucket_size
from ..errors import DecodeLimitError
from .token_sampling import ACCEPT_STREAM, RESIDUAL_STREAM, choose, gumbel, probabilities, uniform

_LOG = logging.getLogger(__name__)

SLOT_EDGES = (64, 128, 256, 512, 1024, 2048, 4096)
"""Cache slot buckets: a graph serves every bound whose slots round up to the same edge."""

Graph = Callable[..., Any]
"""A graph runner: `run(name, fn, *args)` calls fn(*args) as the runtime does (eagerly, compiled once per
name and shape, or traced on XLA) and returns its outputs."""


def eager(name: str, fn: Callable[..., Any], *args: Any) -> Any:
    """The plain runner: call fn."""
    return fn(*args)


@dataclass
class DecodeStats:
    """What one `generate` call did (the bench and tests read it)."""

    steps: int = 0
    """Graph calls of the decoder (draft and verify calls counted separately)."""
    host_reads: int = 0
    """Device-to-host reads during decoding."""
    drafted: int = 0
    """Speculative tokens proposed for rows still live."""
    accepted: int = 0
    """Of those, accepted by the full model."""
    beam_rounds: list[int] = field(default_factory=list)
    """Steps each beam batch ran."""

    @property
    def accept_rate(self) -> float:
        """Accepted / drafted (0 when nothing was drafted)."""
        return self.accepted / self.drafted if self.drafted else 0.0


@dataclass
class Batch:
    """One bucket's inputs on the device."""

    src: torch.Tensor
    """Source ids [b, s] (padded with the model's src_pad)."""
    src_lengths: torch.Tensor
    """[b] int64."""
    seeds: torch.Tensor
    """Per-row seeds [b] int64."""


Loop = Generator[tuple[np.ndarray, np.ndarray], None, list[np.ndarray]]
"""A decoding loop: yields (token buffer [b, limit], tokens final per row [b]) at each host read when it
is watched, and returns each row's tokens (`TokenDecoder._finish`)."""


def _drain(loop: Loop) -> list[np.ndarray]:
    """Run a loop to its end; its return value."""
    while True:
        try:
            next(loop)
        except StopIteration as stop:
            return stop.value


def _knobs(opts: Decoding, b: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Per-row temperature, top_k, top_p and min_tokens tensors (one graph serves every setting); greedy is
    temperature 0."""
    temperature = 0.0 if opts.method in ("greedy", "beam") else float(opts.temperature)
    return (torch.full((b,), temperature, device=device), torch.full((b,), opts.top_k, device=device),
            torch.full((b,), float(opts.top_p), device=device), torch.full((b,), opts.min_tokens, device=device))


class TokenDecoder:
    """Runs a `TokenTransformer`'s decoding loops through a graph runner."""

    def __init__(self, model: Any, run: Graph = eager, sync_every: int = 8, max_tokens: int | None = None) -> None:
        self.model = model
        self.cfg = model.cfg
        self.max_tokens = max_tokens
        """The bound when a request sets none (None: every target position the model has)."""
        self.run = run
        self.sync_every = sync_every
        """Steps between host reads of the live flags (greedy and sampling)."""
        self._warmup = False

    # ---- graphs ----------------------------------------------------------------------------------------

    def _encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.model.cross_kv(self.model.encode(src, src_lengths), src_lengths)

    def _no_eos(self, logits: torch.Tensor, positions: torch.Tensor, min_tokens: torch.Tensor) -> torch.Tensor:
        """logits [b, n, V] with EOS impossible for tokens at positions [b, n] <= each row's min_tokens."""
        early = positions <= min_tokens[:, None]  # [b, n]
        eos = torch.arange(logits.shape[-1], device=logits.device) == self.cfg.eos  # [V]
        return logits.masked_fill(early[..., None] & eos, float("-inf"))

    def _sample_step(self, cur, pos, live, out, k, v, ck, cv, cb, seeds, temp, top_k, top_p, min_tok):  # noqa: ANN001, ANN202
        logits = self._no_eos(self.model.step(cur, pos, k, v, ck, cv, cb), (pos + 1)[:, None], min_tok)  # [b, 1, V]
        nxt = choose(logits, seeds, (pos + 1)[:, None], temp, top_k, top_p)[:, 0]  # token at position pos + 1
        nxt = torch.where(live, nxt, self.cfg.pad)
        out.scatter_(1, pos[:, None], nxt[:, None])  # out[r, j] is the token at position j + 1
        return nxt[:, None], pos + 1, live & (nxt != self.cfg.eos)

    def _draft_step(self, cur, pos, k, v, ck, cv, cb, seeds, temp, top_k, top_p, min_tok):  # noqa: ANN001, ANN202
        logits = self.model.step(cur, pos, k, v, ck, cv, cb, depth=self.cfg.early_exit_layer)  # [b, 1, V]
        logits = self._no_eos(logits, (pos + 1)[:, None], min_tok)
        q = probabilities(logits, temp, top_k, top_p)  # [b, 1, V]
        return choose(logits, seeds, (pos + 1)[:, None], temp, top_k, top_p), q

    def _verify(self, tokens, q, pos, live, out, k, v, ck, cv, cb, seeds, temp, top_k, top_p, min_tok):  # noqa: ANN001, ANN202
        """tokens [b, g + 1] = the last emitted token and g drafts, q [b, g, V] their draft distributions."""
        g = q.shape[1]
        logits = self.model.step(tokens, pos, k, v, ck, cv, cb)  # [b, g + 1, V]
        logits = self._no_eos(logits, pos[:, None] + 1 + torch.arange(g + 1, device=pos.device), min_tok)
        p = probabilities(logits, temp, top_k, top_p)  # [b, g + 1, V]
        drafts = tokens[:, 1:]  # [b, g]
        p_d = p[:, :g].gather(-1, drafts[..., None])[..., 0]  # [b, g]
        q_d = q.gather(-1, drafts[..., None])[..., 0]
        positions = pos[:, None] + 1 + torch.arange(g, device=pos.device)  # [b, g]: each draft's position
        u = uniform(seeds, ACCEPT_STREAM, 1, positions)[..., 0]  # [b, g]
        ok = u * q_d <= p_d  # accept with probability min(1, p / q)
        n_acc = ok.to(torch.int64).cumprod(-1).sum(-1)  # [b] leading accepted drafts
        at = n_acc[:, None, None].expand(-1, 1, p.shape[-1])
        p_n = p.gather(1, at)[:, 0]  # [b, V] the full model at the first rejected (or bonus) position
        q_n = torch.cat([q, torch.zeros_like(q[:, :1])], 1).gather(1, at)[:, 0]  # zero at the bonus position
        residual = (p_n - q_n).clamp_min(0)  # the bonus position's residual is p itself
        noise = gumbel(seeds, RESIDUAL_STREAM, p.shape[-1], (pos + 1 + n_acc)[:, None])[:, 0]
        new = (residual.log() + noise).argmax(-1)  # [b] a draw from relu(p - q), normalized
        j = torch.arange(g + 1, device=pos.device)[None, :]  # [1, g + 1]
        emitted = torch.where(j < n_acc[:, None], torch.cat([drafts, drafts[:, :1]], 1), new[:, None])  # [b, g + 1]
        is_eos = (emitted == self.cfg.eos) & (j <= n_acc[:, None])
        first_eos = torch.where(is_eos, j, g + 1).min(-1).values  # [b]
        count = torch.minimum(n_acc, first_eos) + 1  # tokens this round emits (through an EOS)
        valid = (j < count[:, None]) & live[:, None]
        slots = pos[:, None] + j  # out index of each emitted token
        out.scatter_(1, slots, torch.where(valid, emitted, out.gather(1, slots)))
        accepted = torch.where(live, torch.minimum(n_acc, count), 0).sum()
        drafted = live.to(torch.int64).sum() * g
        still = live & (first_eos > g)
        # a finished row stays where it is, so its (ignored) later rounds never write past the cache
        return new[:, None], torch.where(still, pos + n_acc + 1, pos), still, torch.stack([drafted, accepted])

    def _beam_step(self, cur, pos, scores, min_tok, k, v, ck, cv, cb, width: int):  # noqa: ANN001, ANN202
        logits = self._no_eos(self.model.step(cur, pos, k, v, ck, cv, cb), (pos + 1)[:, None], min_tok)[:, 0]
        logp = logits.float().log_softmax(-1) + scores[:, None]  # [b * B, V]
        flat = logp.reshape(-1, width * logp.shape[-1])  # [b, B * V]
        return flat.topk(2 * width, dim=-1)

    @staticmethod
    def _reorder(k: torch.Tensor, v: torch.Tensor, rows: torch.Tensor) -> None:
        """Beam reordering: cache rows gathered by parent index, in place."""
        k.copy_(k.index_select(1, rows))
        v.copy_(v.index_select(1, rows))

    # ---- loops -----------------------------------------------------------------------------------------

    def bound(self, opts: Decoding) -> int:
        """Most tokens a row may generate (EOS included)."""
        limit = self.cfg.max_target - 1  # position 0 holds the start token
        if opts.max_tokens is not None and opts.max_tokens > limit:
            raise DecodeLimitError(f"max_tokens {opts.max_tokens} exceeds this model's {limit} target positions")
        return opts.max_tokens or self.max_tokens or limit

    def slots(self, tokens: int) -> int:
        """Cache slots (= the `out` buffer's width) for a loop that may write `tokens` positions."""
        return bucket_size(tokens, SLOT_EDGES)

    def generate(self, batch: Batch, opts: Decoding, stats: DecodeStats | None = None,
                 warmup: bool = False) -> list[np.ndarray]:
        """Each row's tokens (EOS included, start token excluded) as int64 arrays.

        Raises `DecodeLimitError` if a row has not emitted EOS within the bound (its partial tokens are on
        the error's `tokens`, the bound on its `limit`). `warmup=True` runs each graph of the method once and
        returns nothing."""
        stats = stats if stats is not None else DecodeStats()
        self._warmup = warmup
        with torch.no_grad():
            if opts.method == "beam":
                return self._beam(batch, opts, stats)
            if opts.method == "speculative":
                if self.cfg.early_exit_layer is None:
                    raise DecodeLimitError("speculative decoding needs a model with an early-exit head")
                return _drain(self._speculative(batch, opts, stats))
            return _drain(self._sampled(batch, opts, stats))

    def stream(self, batch: Batch, opts: Decoding, stats: DecodeStats | None = None) -> Iterator[list[np.ndarray]]:
        """Each row's new tokens (a list of int64 arrays, one per row, some maybe empty) after every host
        read of the loop: their concatenation is exactly `generate`'s tokens for the row (EOS last), and a
        row yields nothing more after its EOS. The loop and its graphs are `generate`'s; watching it adds one
        read of the token buffer [b, slots] per read of the live flags (greedy and sampling: one per
        `sync_every` steps; speculative: one per draft-and-verify round).

        Beam search yields once, after the search (its best hypothesis can change until the end). A row
        that has not ended within the bound: the tokens it had are yielded, then `DecodeLimitError` is
        raised (with every row's tokens on `tokens`, as `generate`)."""
        stats = stats if stats is not None else DecodeStats()
        self._warmup = False
        if opts.method == "beam":
            try:
                rows = self.generate(batch, opts, stats)
            except DecodeLimitError as err:
                if getattr(err, "tokens", None) is not None:  # rows at the bound (not a bad setting)
                    yield [t.copy() for t in err.tokens]  # type: ignore[attr-defined]
                raise
            yield rows
            return
        if opts.method == "speculative" and self.cfg.early_exit_layer is None:
            raise DecodeLimitError("speculative decoding needs a model with an early-exit head")
        run = self._speculative if opts.method == "speculative" else self._sampled
        loop = scoped(run(batch, opts, stats, watch=True), torch.no_grad)
        sent = np.zeros(batch.src.shape[0], dtype=np.int64)  # tokens of each row yielded so far
        try:
            while True:
                try:
                    host, final = next(loop)  # [b, limit], [b]
                except StopIteration as stop:
                    rows = stop.value
                    break
                new = []
                for r, row in enumerate(host):
                    row = row[:final[r]]
                    ends = np.flatnonzero(row == self.cfg.eos)
                    row = row[:ends[0] + 1] if ends.size else row
                    new.append(row[sent[r]:].copy())
                    sent[r] = max(sent[r], len(row))
                yield new
        except DecodeLimitError as err:  # the rows' last tokens, then the error
            rest = [row[sent[r]:].copy() for r, row in enumerate(getattr(err, "tokens", None) or [])]
            if any(len(t) for t in rest):
                yield rest
            raise
        rest = [row[sent[r]:].copy() for r, row in enumerate(rows)]
        if any(len(t) for t in rest):
            yield rest

    def _prepare(self, batch: Batch, slots: int) -> tuple[torch.Tensor, ...]:
        """The cross-attention keys of the batch, and every loop state made on the device (materialized by the
        runner as data, so the first step's graph is the same as every later step's)."""
        ck, cv, cb = self.run("encode", self._encode, batch.src, batch.src_lengths)
        b, dev = batch.src.shape[0], batch.src.device

        def start() -> tuple[torch.Tensor, ...]:
            k, v = self.model.new_cache(b, slots, device=dev)
            cur = torch.full((b, 1), self.cfg.bos, dtype=torch.int64, device=dev)
            pos = torch.zeros(b, dtype=torch.int64, device=dev)
            live = torch.ones(b, dtype=torch.bool, device=dev)
            out = torch.full((b, slots), self.cfg.pad, dtype=torch.int64, device=dev)
            return k, v, cur, pos, live, out, torch.zeros(2, dtype=torch.int64, device=dev)

        return (ck, cv, cb, *self.run("start", start))

    def _sampled(self, batch: Batch, opts: Decoding, stats: DecodeStats, watch: bool = False) -> Loop:
        limit = self.bound(opts)
        b, dev = batch.src.shape[0], batch.src.device
        slots = self.slots(limit)
        ck, cv, cb, k, v, cur, pos, live, out, _ = self._prepare(batch, slots)
        knobs = _knobs(opts, b, dev)
        done = False
        for step in range(limit):
            cur, pos, live = self.run("step", self._sample_step, cur, pos, live, out, k, v, ck, cv, cb,
                                      batch.seeds, *knobs)
            stats.steps += 1
            if (step + 1) % self.sync_every == 0 or step + 1 == limit:
                stats.host_reads += 1
                live_host = live.cpu().numpy()
                if watch:  # every row has step + 1 final tokens (a finished row: pads after its EOS)
                    stats.host_reads += 1
                    yield out.cpu().numpy()[:, :limit], np.full(b, step + 1, dtype=np.int64)
                if not live_host.any() or self._warmup:  # a warm-up stops after one block
                    done = True
                    break
        return self._finish(out, limit, done)

    def _speculative(self, batch: Batch, opts: Decoding, stats: DecodeStats, watch: bool = False) -> Loop:
        limit, g = self.bound(opts), opts.draft
        b, dev = batch.src.shape[0], batch.src.device
        slots = self.slots(limit + g + 1)
        ck, cv, cb, k, v, cur, pos, live, out, counts = self._prepare(batch, slots)
        knobs = _knobs(opts, b, dev)
        done = False
        while True:
            drafts, qs, d_cur = [], [], cur
            for i in range(g):
                d_cur, q = self.run("draft", self._draft_step, d_cur, pos + i, k, v, ck, cv, cb, batch.seeds, *knobs)
                drafts.append(d_cur)
                qs.append(q)
            stats.steps += g + 1
            tokens = torch.cat([cur, *drafts], 1)  # [b, g + 1]
            cur, pos, live, c = self.run("verify", self._verify, tokens, torch.cat(qs, 1), pos, live, out,
                                         k, v, ck, cv, cb, batch.seeds, *knobs)
            counts = self.run("count", torch.add, counts, c)
            stats.host_reads += 1
            live_host, pos_host = live.cpu().numpy(), pos.cpu().numpy()
            # a live row's tokens before `pos` are final; a finished row's run through its EOS
            final = np.where(live_host, np.minimum(pos_host, limit), limit)
            if watch:
                stats.host_reads += 1
                yield out.cpu().numpy()[:, :limit], final
            if not live_host.any() or self._warmup:  # a warm-up stops after one round
                done = True
                break
            if (pos_host[live_host] >= limit).any():
                break
        drafted, accepted = counts.cpu().tolist()
        stats.drafted += drafted
        stats.accepted += accepted
        return self._finish(out, limit, done, final)

    def _finish(self, out: torch.Tensor, limit: int, done: bool, final: np.ndarray | None = None) -> list[np.ndarray]:
        """Each row's tokens through its EOS; `DecodeLimitError` (rows on `tokens`) if a row has none or the loop
        stopped early. `final` [b]: how many tokens of each row are real (speculative rows advance at their
        own pace: a row still live when another reached the bound has fewer than `limit`, and the slots
        after them hold padding, which may be the EOS id); None: `limit` each."""
        tokens = out.cpu().numpy()[:, :limit]  # the whole buffer comes back (a slice would be another graph)
        if self._warmup:
            return []
        rows, stuck = [], []
        for r, row in enumerate(tokens):
            row = row if final is None else row[:final[r]]
            ends = np.flatnonzero(row == self.cfg.eos)
            if ends.size:
                rows.append(row[:ends[0] + 1].copy())
            else:
                rows.append(row.copy())
                stuck.append(r)
        if stuck or not done:
            err = DecodeLimitError(
                f"{len(stuck)} of {len(rows)} rows did not end within {limit} tokens (rows "
                f"{', '.join(map(str, stuck[:8]))}); raise max_tokens, or split the text")
            err.tokens = rows  # type: ignore[attr-defined]
            err.limit = limit  # type: ignore[attr-defined]
            raise err
        return rows

    def _beam(self, batch: Batch, opts: Decoding, stats: DecodeStats) -> list[np.ndarray]:
        from .token_beam import beam_search

        return beam_search(self, batch, opts, stats)


Y = TypeVar("Y")
R = TypeVar("R")


def scoped(gen: Generator[Y, None, R], scope: Callable[[], AbstractContextManager[Any]]) -> Generator[Y, None, R]:
    """`gen` with each of its steps run inside a fresh `scope()` (`torch.no_grad`, a precision scope), so
    the context is never left on in the caller between yields; returns what `gen` returns."""
    while True:
        with scope():
            try:
                item = next(gen)
            except StopIteration as stop:
                return stop.value
        yield item
