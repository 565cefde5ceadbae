"""Where the time goes: a voice's pipeline timed stage by stage, with a synchronised clock between stages.

`vits_stage_times` repeats what `Voice.synthesize` -> `Engine.synthesize` -> `Engine.run_batch` do, in the
same order: the same sentence plans and per-utterance seeds and length scales, the same batching
(length-sorted groups of the engine's `max_batch`, padded to buckets when the runtime needs static
shapes) and the same per-utterance noise (`sonorant.models.vits.noise`).

With the eager runtime it calls the model's submodules directly, in the order of `Vits.encode`,
`Vits.latent` and `Vits.decode`:

  front_end  `voice.plan` (normalise, split, phonemize, ids: what `voice.phoneme_ids` does)
  encoder    `model.enc_p` (and the speaker embedding)
  duration   duration noise, `model.dp`, exp, ceil and the frame counts (including the host read of them)
  flow       latent noise, the path matrix, the prior sample and `model.flow` (`Vits.latent`)
  decoder    `model.dec`, and the copy of the audio to the host

Any other runtime (ONNX Runtime, ...) runs its graphs as wholes, so it is split at the runtime seam:
front_end, encode (encoder + durations), latent (flow) and vocode (decoder).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from ..engine.buckets import bucket_size
from ..models.vits import Encoded
from ..models.vits.layers import sequence_mask
from ..models.vits.noise import duration_noise, latent_noise
from ..runtimes import EagerRuntime
from .runner import _sync

if TYPE_CHECKING:
    from .. import SynthesisConfig, Voice

STAGES: tuple[str, ...] = ("front_end", "encoder", "duration", "flow", "decoder")
"""Stage names in pipeline order (eager runtime)."""
RUNTIME_STAGES: tuple[str, ...] = ("front_end", "encode", "latent", "vocode")
"""Stage names in pipeline order (any other runtime: split at the runtime seam)."""


class _Clock:
    """Adds the synchronised time since the last mark to a stage."""

    def __init__(self, device: torch.device, stages: Sequence[str]) -> None:
        self.device = device
        self.times = dict.fromkeys(stages, 0.0)
        self._t = time.perf_counter()

    def restart(self) -> None:
        _sync(self.device)
        self._t = time.perf_counter()

    def mark(self, stage: str) -> None:
        _sync(self.device)
        now = time.perf_counter()
        self.times[stage] += now - self._t
        self._t = now


@dataclass(frozen=True)
class _Batch:
    """One padded batch, as `Engine._latent` builds it (tensors on the CPU)."""

    idx: list[int]
    """Utterance indices (into the text's plans) in this batch."""
    ids: torch.Tensor
    """[b, width] int64, zero-padded."""
    lengths: torch.Tensor
    """[b] int64."""
    seeds: list[int]
    """Per-utterance noise seeds."""
    length_scale: torch.Tensor
    """[b] float32."""


def _batches(ids: Sequence[Sequence[int]], scales: Sequence[float], base_seed: int, max_batch: int,
             edges: tuple[int, ...], static: bool) -> list[_Batch]:
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = []
    for start in range(0, len(order), max_batch):
        idx = order[start : start + max_batch]
        n_ids = [len(ids[i]) for i in idx]
        width = bucket_size(max(n_ids), edges) if static else max(n_ids)
        padded = torch.zeros(len(idx), width, dtype=torch.long)
        for row, i in enumerate(idx):
            padded[row, : n_ids[row]] = torch.tensor(ids[i], dtype=torch.long)
        out.append(_Batch(idx, padded, torch.tensor(n_ids, dtype=torch.long), [base_seed + i for i in idx],
                          torch.tensor([scales[i] for i in idx], dtype=torch.float32)))
    return out


def vits_stage_times(voice: Voice, text: str, cfg: SynthesisConfig | None = None) -> dict[str, float]:
    """Seconds per stage (see module docstring) for synthesizing `text` once with `voice`'s model."""
    model = voice.model
    engine = voice.engine
    runtime = engine.runtime
    eager = isinstance(runtime, EagerRuntime)
    device = torch.device(runtime.device) if eager else torch.device("cpu")
    static = bool(getattr(runtime, "static_shapes", False))
    resolved = voice.resolve(cfg)
    base_seed = resolved.seed if resolved.seed is not None else 0
    channels = model.cfg.inter_channels
    speaker = (resolved.speaker_id or 0) if model.cfg.n_speakers > 1 else None

    clock = _Clock(device, STAGES if eager else RUNTIME_STAGES)
    plans = voice.plan(text, getattr(resolved, "normalize_text", True))
    clock.mark("front_end")
    ids = [p.ids for p in plans]
    scales = [resolved.length_scale * getattr(p, "length_scale", 1.0) for p in plans]
    batches = _batches(ids, scales, base_seed, max(1, engine.buckets.max_batch), engine.buckets.id_edges, static)

    for batch in batches:
        clock.restart()
        b, width = batch.ids.shape
        n_ids = batch.lengths.tolist()
        dur_noise = torch.stack([
            duration_noise(s, n, width) if resolved.noise_w > 0 else torch.zeros(2, width)
            for s, n in zip(batch.seeds, n_ids)
        ])  # [b, 2, t_x]
        sid = torch.full((b,), speaker, dtype=torch.long) if speaker is not None else None
        noise_w = torch.full((b,), resolved.noise_w)
        if eager:
            enc = _eager_encode(model, clock, device, batch, noise_w, dur_noise, sid)
        else:
            enc = runtime.encode(batch.ids, batch.lengths, noise_w, batch.length_scale, dur_noise, sid)
        frames = [int(f) for f in enc.frames.cpu().tolist()]  # the engine's one host read
        clock.mark("duration" if eager else "encode")

        n_frames = bucket_size(max(frames), engine.buckets.frame_edges) if static else max(frames)
        z_noise = torch.stack([
            latent_noise(s, f, channels, n_frames) if resolved.noise_scale > 0 else torch.zeros(channels, n_frames)
            for s, f in zip(batch.seeds, frames)
        ])  # [b, c, t_y]
        noise_scale = torch.full((b,), resolved.noise_scale)
        if eager:
            with torch.inference_mode():
                z = model.latent(enc, noise_scale.to(device), z_noise.to(device))  # [b, c, t_y]
        else:
            z = runtime.latent(enc, noise_scale, z_noise)
        clock.mark("flow" if eager else "latent")

        if eager:
            with torch.inference_mode():
                audio = model.dec(z, torch.tensor(frames, device=device), g=enc.g)  # [b, t_y * hop]
            audio.float().cpu()
        else:
            engine.vocode(z, frames, enc.g)
        clock.mark("decoder" if eager else "vocode")
    return clock.times


def _eager_encode(model: torch.nn.Module, clock: _Clock, device: torch.device, batch: _Batch,
                  noise_w: torch.Tensor, dur_noise: torch.Tensor, sid: torch.Tensor | None) -> Encoded:
    """`Vits.encode` split into its encoder and duration parts (the clock marks "encoder" between them)."""
    with torch.inference_mode():
        ids, lengths = batch.ids.to(device), batch.lengths.to(device)
        x_mask = sequence_mask(lengths, ids.shape[1]).unsqueeze(1).to(model.enc_p.proj.weight.dtype)  # [b, 1, t_x]
        g = model.emb_g(sid.to(device)).unsqueeze(-1) if sid is not None else None  # [b, gin, 1]
        x, m_p, logs_p = model.enc_p(ids, x_mask)
        clock.mark("encoder")
        noise = dur_noise.to(device) * noise_w.to(device).view(-1, 1, 1)  # [b, 2, t_x]
        logw = model.dp(x, x_mask, noise, g)  # [b, 1, t_x]
        w = torch.exp(logw) * x_mask * batch.length_scale.to(device).view(-1, 1, 1)
        durations = torch.ceil(w).squeeze(1)  # [b, t_x]
        frames = torch.clamp_min(durations.sum(dim=1), 1).long()  # [b]
    return Encoded(m_p, logs_p, durations, frames, g)
