"""Batched beam search over a static cache (the semantics of Hugging Face's `generate(num_beams=B)` with
`do_sample=False, early_stopping=False`, so a toktts checkpoint gives upstream's best sequence).

Each row of the batch holds B beams as B consecutive cache rows. A step runs the decoder on every beam
(one graph call), adds each beam's running log probability and takes the top 2B of the B x V candidates
on the device; only those 2B scores and indices come back to the host, where the bookkeeping is plain
numpy: candidates ending in EOS among the top B become finished hypotheses (scored by log probability /
generated length ** length_penalty), the best B others keep running, and the cache rows are gathered by
their parents' indices (`TokenDecoder._reorder`, one index gather on the device). A row stops improving
once its B finished hypotheses all beat what its best running beam could still reach.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from ..config import Decoding
from ..errors import DecodeLimitError

if TYPE_CHECKING:
    from .token_decoding import Batch, DecodeStats, TokenDecoder

_LOST = np.float32(-1.0e9)


def beam_search(dec: TokenDecoder, batch: Batch, opts: Decoding, stats: DecodeStats) -> list[np.ndarray]:
    """The best hypothesis of each row (tokens, EOS included). Raises `DecodeLimitError` when a row's best
    hypothesis is one the bound cut, not one that ended in EOS."""
    width, limit, eos = opts.beams, dec.bound(opts), dec.cfg.eos
    b, dev = batch.src.shape[0], batch.src.device
    rows = b * width
    expand = torch.arange(b, device=dev).repeat_interleave(width)  # [b * B] the source row of each beam
    src, lengths = batch.src[expand], batch.src_lengths[expand]
    ck, cv, cb = dec.run("encode", dec._encode, src, lengths)
    k, v = dec.run("start", lambda: dec.model.new_cache(rows, dec.slots(limit), device=dev))
    cur = torch.from_numpy(np.full((rows, 1), dec.cfg.bos, dtype=np.int64)).to(dev)
    run_seq = np.full((b, width, limit), dec.cfg.pad, dtype=np.int64)
    run_score = np.full((b, width), _LOST, dtype=np.float32)
    run_score[:, 0] = 0.0  # the first step expands beam 0 only
    fin_seq = run_seq.copy()
    fin_score = np.full((b, width), _LOST, dtype=np.float32)
    fin_flag = np.zeros((b, width), dtype=bool)
    fin_by_eos = np.zeros((b, width), dtype=bool)
    improvable = np.ones(b, dtype=bool)
    top_b = np.arange(2 * width) < width
    base = (np.arange(b) * width)[:, None]
    lp = np.float32(opts.length_penalty)
    min_tok = torch.from_numpy(np.full(rows, opts.min_tokens, dtype=np.int64)).to(dev)
    for t in range(limit):
        pos = torch.from_numpy(np.full(rows, t, dtype=np.int64)).to(dev)  # host data: one graph for every step
        scores = torch.from_numpy(run_score.reshape(-1)).to(dev)
        vals, idx = dec.run("beam_step", dec._beam_step, cur, pos, scores, min_tok, k, v, ck, cv, cb, width)
        stats.steps += 1
        stats.host_reads += 1
        vals, idx = vals.cpu().numpy().astype(np.float32), idx.cpu().numpy()  # [b, 2B]
        vocab = dec.cfg.tgt_vocab
        parent, token = idx // vocab, idx % vocab
        cand_seq = np.take_along_axis(run_seq, parent[:, :, None], axis=1)  # [b, 2B, limit]
        cand_seq[:, :, t] = token
        ended = token == eos
        hits = ended | (t + 1 >= limit)
        # the best B candidates that did not stop keep running
        alive = vals + hits.astype(np.float32) * _LOST
        keep = _top(alive, width)
        run_seq = np.take_along_axis(cand_seq, keep[:, :, None], axis=1)
        run_score = np.take_along_axis(alive, keep, axis=1)
        chosen_parent = np.take_along_axis(parent, keep, axis=1)
        # stopped candidates among the top B join the finished hypotheses if they are better
        norm = vals / np.float32(t + 1) ** lp
        norm = norm + (~improvable).astype(np.float32)[:, None] * _LOST
        norm = norm + (~(hits & top_b[None, :])).astype(np.float32) * _LOST
        merged_score = np.concatenate([fin_score, norm], axis=1)
        best = _top(merged_score, width)
        fin_seq = np.take_along_axis(np.concatenate([fin_seq, cand_seq], 1), best[:, :, None], axis=1)
        fin_score = np.take_along_axis(merged_score, best, axis=1)
        fin_flag = np.take_along_axis(np.concatenate([fin_flag, hits & top_b[None, :]], 1), best, axis=1)
        fin_by_eos = np.take_along_axis(np.concatenate([fin_by_eos, ended & top_b[None, :]], 1), best, axis=1)
        reach = run_score[:, :1] / np.float32(t + 1) ** lp  # [b, 1] what the best running beam could still get
        worst = np.where(fin_flag, fin_score.min(axis=1, keepdims=True), _LOST)
        improvable &= (reach > worst).any(axis=1)
        if not improvable.any() or hits.all():
            break
        gather = torch.from_numpy((base + chosen_parent).reshape(-1)).to(dev)
        dec.run("reorder", dec._reorder, k, v, gather)
        cur = torch.from_numpy(run_seq[:, :, t].reshape(-1, 1)).to(dev)
        if dec._warmup and t >= 1:  # two steps: the first from the start, one after a reorder
            return []
    stats.beam_rounds.append(t + 1)
    out, stuck = [], []
    for r in range(b):
        seq = fin_seq[r, 0]
        ends = np.flatnonzero(seq == eos)
        if fin_flag[r, 0] and fin_by_eos[r, 0] and ends.size:
            out.append(seq[:ends[0] + 1].copy())
        else:
            out.append(seq.copy())
            stuck.append(r)
    if stuck:
        err = DecodeLimitError(f"beam search: the best hypothesis of {len(stuck)} of {b} rows did not end within "
                               f"{limit} tokens (rows {', '.join(map(str, stuck[:8]))}); raise max_tokens, or "
                               "split the text")
        err.tokens = out  # type: ignore[attr-defined]
        err.limit = limit  # type: ignore[attr-defined]
        raise err
    return out


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest entries of each row, best first (ties: the lower index first, as topk)."""
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]
