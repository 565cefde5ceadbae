"""The frames passes of streaming, which `Engine.stream` runs for one utterance and the server's scheduler
batches across requests: full frames, streamed heads and the rest of a streamed head's frames (vocoder
windows go through `Engine.decode`). Each stacks its rows into one
padded batch, runs the engine's runtime once, and returns every row's own result; padding never changes
a row's result (masks, noise that is a function of seed and frame), so any batch gives the same audio as
running the row alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..models.base import Encoded
from .buckets import bucket_size

if TYPE_CHECKING:
    from .engine import Engine, Utterance


@dataclass
class Latent:
    """One utterance after its latent pass: the decoder's input, or only its first frames."""

    frames: int
    """Latent frames of the whole utterance."""
    z: Any
    """Latent frames [1, c, n]: all `frames`, or (a head) the first n, exact for the first window."""
    g: Any | None
    """Speaker embedding [1, gin, 1], or None."""
    rest: tuple[Encoded, Utterance] | None = None
    """For a head: the utterance's stage-1 row and the utterance (its seed and knobs), from which
    `rest_latents` computes all frames."""


def latents(engine: Engine, utts: Sequence[Utterance]) -> list[Latent]:
    """Full latents of `utts` in one pass (`Engine.latents`)."""
    z, frames, g = engine.latents(utts)  # z: [b, c, t_y]
    ops = engine.ops
    return [Latent(f, ops.copy(z[row : row + 1, :, :f]), None if g is None else ops.copy(g[row : row + 1]))
            for row, f in enumerate(frames)]


def head_latents(engine: Engine, utts: Sequence[Utterance], first_stops: Sequence[int | None]) -> list[Latent]:
    """Stage 1 for `utts`, then the frames stage over just the frames their first windows need.

    `first_stops[i]` is one past the last frame utterance i's first window reads, or None to get its
    full latent. The frames stage reaches `engine.flow_context` frames, so a head of `stop + flow_context`
    frames is exact on the first window; utterances that short get their full latent anyway, and so
    does every utterance of a family whose frames stage attends globally (`flow_context` None).
    """
    ops = engine.ops
    enc, frames = engine.encode(utts)
    reach = engine.flow_context
    needs = [f if stop is None or reach is None else min(f, stop + reach) for f, stop in zip(frames, first_stops)]
    width = min(engine.frame_width(max(needs)), engine.frame_width(max(frames)))
    z = engine.runtime.frames(enc, engine.knob_matrix(utts), engine.seed_vector(utts), width)  # [b, c, width]
    out = []
    for row, (f, utt) in enumerate(zip(frames, utts)):
        g = None if enc.g is None else ops.copy(enc.g[row : row + 1])
        if f <= width:  # the head holds the whole utterance: the flows saw its true end
            out.append(Latent(f, ops.copy(z[row : row + 1, :, :f]), g))
            continue
        row_enc = _row(engine, enc, row, f, len(utt.ids), g)
        assert reach is not None  # a head shorter than its utterance exists only with a finite reach
        out.append(Latent(f, ops.copy(z[row : row + 1, :, : width - reach]), g, (row_enc, utt)))
    return out


def _row(engine: Engine, enc: Encoded, row: int, frames: int, n_ids: int, g: Any | None) -> Encoded:
    """Row `row` of a batch's stage-1 result, cut to its own length: its ids, or (an autoregressive family,
    whose stage 1 returns decoded frames and no durations) its frames."""
    ops = engine.ops
    if enc.durations is None:
        return Encoded(ops.copy(enc.tokens[row : row + 1, :, :frames]), None, ops.copy(enc.frames[row : row + 1]), g)
    return Encoded(ops.copy(enc.tokens[row : row + 1, :, :n_ids]), ops.copy(enc.durations[row : row + 1, :n_ids]),
                   ops.copy(enc.frames[row : row + 1]), g)


def rest_latents(engine: Engine, heads: Sequence[Latent]) -> list[Any]:
    """The full latents [1, c, frames] of heads from `head_latents`, in one pass (stage 1 is not rerun)."""
    rows = [h.rest for h in heads]
    if any(r is None for r in rows):
        raise ValueError("rest_latents takes heads from head_latents only")
    ops = engine.ops
    static = engine.runtime.static_shapes
    n_ids = max(r[0].tokens.shape[-1] for r in rows)
    t_y = engine.frame_width(max(h.frames for h in heads))
    regulated = rows[0][0].durations is not None  # else the tokens are decoded frames: padded to t_y
    t_x = (bucket_size(n_ids, engine.buckets.id_edges) if static else n_ids) if regulated else t_y
    enc = Encoded(
        ops.concat([ops.pad_last(r[0].tokens, t_x) for r in rows]),  # [b, ct, t_x]
        ops.concat([ops.pad_last(r[0].durations, t_x) for r in rows]) if regulated else None,  # [b, t_x]
        ops.concat([r[0].frames for r in rows]),  # [b]
        None if rows[0][0].g is None else ops.concat([r[0].g for r in rows]),  # [b, gin, 1]
    )
    utts = [r[1] for r in rows]
    z = engine.runtime.frames(enc, engine.knob_matrix(utts), engine.seed_vector(utts), t_y)  # [b, c, t_y]
    return [ops.copy(z[row : row + 1, :, : h.frames]) for row, h in enumerate(heads)]

