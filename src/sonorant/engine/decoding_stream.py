"""Streaming an autoregressive family while it decodes (`Engine.stream` for families with a decode stage).

The decoder emits `Decoder.block` frames per call. A decoded frame never changes afterwards, so once the
decoder is `frames_reach` frames past a frame, the frames stage (Tacotron2's postnet) gives it its final
value, and once that is true `context` (the vocoder's reach) frames past a window's core, the window's
audio is exactly what the whole sentence's vocoder pass gives (`engine.streaming`). Each window is
therefore decoded as soon as the decoder is far enough ahead, while later blocks are still to come: the
first audio waits for `first_frames + context + frames_reach` frames, not for the whole sentence.

The frames stage runs over everything decoded so far (its noise is a function of the frame's position,
and a prefix pass is exact up to `frames_reach` frames from its end); the window schedule is the
sentence's `StreamConfig`, with the same window sizes `windows()` gives, so compiled vocoders see no
new shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from ..arrays import pad_ids
from ..models.base import Encoded
from .buckets import bucket_size
from .streaming import StreamConfig, Window

if TYPE_CHECKING:
    from .engine import Engine, Utterance


def stream_while_decoding(engine: Engine, utterance: Utterance, cfg: StreamConfig) -> Iterator[tuple[np.ndarray, bool]]:
    """Audio pieces of `utterance` (and whether each is the last), each as soon as it is exact."""
    runtime, ops = engine.runtime, engine.ops
    width = bucket_size(len(utterance.ids), engine.buckets.id_edges) if runtime.static_shapes else len(utterance.ids)
    ids, lengths = pad_ids([utterance.ids], width)  # [1, width], [1]
    sid = np.array([utterance.speaker_id or 0], dtype=np.int64) if engine.multi_speaker else None
    knobs, seeds = engine.knob_matrix([utterance]), engine.seed_vector([utterance])
    reach, context = engine.flow_context or 0, engine.context
    pos, core = 0, max(1, cfg.first_frames)
    for enc, done in runtime.decode_stream(ids, lengths, knobs, seeds, sid):
        decoded = enc.tokens.shape[-1]
        total = int(ops.to_host(enc.frames)[0]) if done else None  # the count, read once the row is done
        ready = total if total is not None else decoded - reach  # frames whose frames-stage value is final
        z = None
        while total is None or pos < total:
            stop = pos + core if total is None else min(total, pos + core)
            need = stop + context if total is None else min(total, stop + context)
            if need > ready:
                break
            if z is None:  # the frames stage over everything decoded so far
                n = total if total is not None else decoded
                prefix = Encoded(enc.tokens, None, enc.frames, enc.g)
                z = runtime.frames(prefix, knobs, seeds, engine.frame_width(n))  # [1, c, >= n]
            window = Window(max(0, pos - context), need, pos, stop, core + 2 * context)
            (audio,) = engine.decode([(z, None if enc.g is None else enc.g[:1], window)])
            yield audio, total is not None and stop == total
            pos, core = stop, min(cfg.max_frames, core * max(1, cfg.growth))
        if total is not None:
            return
