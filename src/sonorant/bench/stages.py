"""Where the time goes: a voice's pipeline timed stage by stage, with a synchronised clock between stages.

`stage_times` runs what `Voice.synthesize` -> `Engine.synthesize` run, in the same order and through
the same engine methods (the same sentence plans, seeds, batches and buckets), stopping the clock at
the runtime seam between stages:

  front_end  `voice.prepare` (normalise, split, phonemize, ids: what `voice.phoneme_ids` does)
  encode     the family's encode stage (text encoder, durations, ...) and the host read of the frame counts;
             for an autoregressive family also its whole decode loop (Tacotron2: attention decoder, gate)
  frames     length regulation and what follows it (VITS: prior sample and flows; FastPitch: the decoder;
             Tacotron2: the postnet)
  vocode     the vocoder, trimming and the copy of the audio to the host
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .runner import _sync

if TYPE_CHECKING:
    from .. import SynthesisConfig, Voice

STAGES: tuple[str, ...] = ("front_end", "encode", "frames", "vocode")
"""Stage names in pipeline order."""


class _Clock:
    """Adds the synchronised time since the last mark to a stage."""

    def __init__(self, device: str, stages: Sequence[str]) -> None:
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


def stage_times(voice: Voice, text: str, cfg: SynthesisConfig | None = None) -> dict[str, float]:
    """Seconds per stage (see module docstring) for synthesizing `text` once with `voice`."""
    engine = voice.engine
    clock = _Clock(engine.runtime.device, STAGES)
    resolved = voice.resolve(cfg)
    _, utts, _ = voice.prepare(text, resolved)
    clock.mark("front_end")
    for idx in engine.batches(utts):
        batch = [utts[i] for i in idx]
        clock.restart()
        enc, frames = engine.encode(batch)
        clock.mark("encode")
        z = engine.latent(batch, enc, frames)
        clock.mark("frames")
        engine.vocode(z, frames, enc.g)
        clock.mark("vocode")
    return clock.times
