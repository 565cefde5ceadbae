"""The latent passes the scheduler batches across requests: full latents, streamed heads and the rest of
a streamed head's latent (decoder windows go through `Engine.decode`). Each stacks its rows into one
padded batch, runs the engine's runtime once, and returns every row's own result; padding never changes
a row's result (masks, per-utterance noise), so any batch gives the same audio as running the row alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..models.vits import Encoded
from .buckets import bucket_size
from .engine import Engine, Utterance


@dataclass
class Latent:
    """One utterance after its latent pass: the decoder's input, or only its first frames."""

    frames: int
    """Latent frames of the whole utterance."""
    z: torch.Tensor
    """Latent frames [1, c, n]: all `frames`, or (a head) the first n, exact for the first window."""
    g: torch.Tensor | None
    """Speaker embedding [1, gin, 1], or None."""
    rest: tuple[Encoded, torch.Tensor, float] | None = None
    """For a head: the utterance's stage-1 row, its latent noise [1, c, frames] and noise scale, from
    which `rest_latents` computes all frames."""


def frame_width(engine: Engine, frames: int) -> int:
    """Padded latent width of a pass over `frames` frames."""
    return bucket_size(frames, engine.buckets.frame_edges) if engine.runtime.static_shapes else frames


def latents(engine: Engine, utts: Sequence[Utterance]) -> list[Latent]:
    """Full latents of `utts` in one pass (`Engine.latents`)."""
    z, frames, g = engine.latents(utts)  # z: [b, c, t_y]
    return [Latent(f, z[row : row + 1, :, :f].clone(), None if g is None else g[row : row + 1].clone())
            for row, f in enumerate(frames)]


def head_latents(engine: Engine, utts: Sequence[Utterance], first_stops: Sequence[int | None]) -> list[Latent]:
    """Stage 1 for `utts`, then the flows over just the frames their first windows need.

    `first_stops[i]` is one past the last frame utterance i's first window reads, or None to get its
    full latent. The flows reach `engine.flow_context` frames, so a head of `stop + flow_context`
    frames is exact on the first window; utterances that short get their full latent anyway.
    """
    enc, frames, z_noise = engine.encode(utts)  # z_noise: [b, c, t_y]
    noise_scale = torch.tensor([u.noise_scale for u in utts], dtype=torch.float32)  # [b]
    needs = [f if stop is None else min(f, stop + engine.flow_context) for f, stop in zip(frames, first_stops)]
    width = min(frame_width(engine, max(needs)), z_noise.shape[-1])
    z = engine.runtime.latent(enc, noise_scale, z_noise[:, :, :width])  # [b, c, width]
    out = []
    for row, (f, need) in enumerate(zip(frames, needs)):
        g = None if enc.g is None else enc.g[row : row + 1].clone()
        if f <= width:  # the head holds the whole utterance: the flows saw its true end
            out.append(Latent(f, z[row : row + 1, :, :f].clone(), g))
            continue
        n_ids = len(utts[row].ids)
        row_enc = Encoded(enc.m_p[row : row + 1, :, :n_ids].clone(), enc.logs_p[row : row + 1, :, :n_ids].clone(),
                          enc.durations[row : row + 1, :n_ids].clone(), enc.frames[row : row + 1].clone(), g)
        rest = (row_enc, z_noise[row : row + 1, :, :f].clone(), float(noise_scale[row]))
        out.append(Latent(f, z[row : row + 1, :, : width - engine.flow_context].clone(), g, rest))
    return out


def rest_latents(engine: Engine, heads: Sequence[Latent]) -> list[torch.Tensor]:
    """The full latents [1, c, frames] of heads from `head_latents`, in one pass (stage 1 is not rerun)."""
    rows = [h.rest for h in heads]
    assert all(r is not None for r in rows), "rest_latents takes heads only"
    static = engine.runtime.static_shapes
    n_ids = max(r[0].m_p.shape[-1] for r in rows)
    t_x = bucket_size(n_ids, engine.buckets.id_edges) if static else n_ids
    t_y = frame_width(engine, max(h.frames for h in heads))

    def pad(t: torch.Tensor, n: int) -> torch.Tensor:
        return F.pad(t, (0, n - t.shape[-1]))

    enc = Encoded(
        torch.cat([pad(r[0].m_p, t_x) for r in rows]),  # [b, c, t_x]
        torch.cat([pad(r[0].logs_p, t_x) for r in rows]),  # [b, c, t_x]
        torch.cat([pad(r[0].durations, t_x) for r in rows]),  # [b, t_x], zero on padding
        torch.cat([r[0].frames for r in rows]),  # [b]
        None if rows[0][0].g is None else torch.cat([r[0].g for r in rows]),  # [b, gin, 1]
    )
    z_noise = torch.cat([pad(r[1], t_y) for r in rows])  # [b, c, t_y]
    noise_scale = torch.tensor([r[2] for r in rows], dtype=torch.float32)  # [b]
    z = engine.runtime.latent(enc, noise_scale, z_noise)  # [b, c, t_y]
    return [z[row : row + 1, :, : h.frames].clone() for row, h in enumerate(heads)]
