"""The one path from phoneme ids to trimmed audio: batching, bucket padding, per-utterance seeds, and
sub-sentence streaming.

The API, the CLI, the server's scheduler and the benchmark all synthesize through `Engine`. The engine
holds no tensor library of its own: it prepares host inputs in numpy and handles the runtime's arrays
through `runtime.ops`, so on ONNX Runtime nothing imports torch, and on a GPU nothing leaves the device
but the frame counts and the finished audio. It knows models only through their family contract
(`sonorant.models.base`): "latent" here means the vocoder's input frames, whatever the family makes them
(VITS's latent z, FastPitch's mel spectrogram).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..arrays import pad_ids
from ..config import Decoding
from ..models.base import Encoded
from . import passes
from .buckets import BucketConfig, bucket_size
from .decoding_stream import stream_while_decoding
from .streaming import StreamConfig, Window, split_windows, windows

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Utterance:
    """One model input: a sentence's ids and everything that decides its audio."""

    ids: tuple[int, ...]
    """Model input ids (the voice's front end made them)."""
    seed: int
    """Seed of this utterance's noise (0 <= seed < 2^63), for families that draw any."""
    knobs: tuple[float, ...]
    """The family's per-utterance controls, in its spec's column order (`FamilySpec.knobs`)."""
    speaker_id: int | None = None
    """Speaker index for multi-speaker voices."""
    decoding: Decoding | None = None
    """How a token family generates this utterance's tokens (None: greedy; other families ignore it)."""


@dataclass
class _Pass:
    """A batch between its stages: its utterances, stage-1 results and the frame counts on their way home."""

    batch: Sequence[Utterance]
    enc: Encoded
    frames: Any  # a HostFuture of the frame counts [b]


class Engine:
    """Runs utterances through a runtime in length-sorted batches and returns each one's own samples."""

    def __init__(self, runtime: Any, buckets: BucketConfig | None = None) -> None:
        self.runtime = runtime
        self.ops = runtime.ops
        self.spec = runtime.spec
        self.buckets = buckets or BucketConfig.for_device(getattr(runtime, "device", "cpu"))
        self.hop = self.spec.hop
        self.channels = self.spec.channels
        self.multi_speaker = self.spec.multi_speaker
        self.context = self.spec.vocoder_reach
        """Frames of context a vocoder window carries on each side."""
        self.flow_context = self.spec.frames_reach
        """Frames on each side that change one output frame of the frames stage (None: global)."""

    # --- whole utterances ---------------------------------------------------------------------------

    def synthesize(self, utterances: Sequence[Utterance], max_batch: int | None = None) -> list[np.ndarray]:
        """Audio for each utterance, in input order. Batches group utterances of similar length (see
        `batches`); each batch's stage 1 is started before the previous batch's audio is collected, so on
        an asynchronous device the host prepares one batch while the device runs another."""
        groups = self.batches(utterances, max_batch)
        out: list[np.ndarray | None] = [None] * len(utterances)
        started = self._start(groups[0], utterances) if groups else None
        collecting: tuple[list[int], Any] | None = None
        for k, idx in enumerate(groups):
            assert started is not None
            current = started
            frames = [int(f) for f in current.frames.result()]  # the one host read: picks the frame width
            started = self._start(groups[k + 1], utterances) if k + 1 < len(groups) else None
            pending = self._finish(current, frames)
            if collecting is not None:
                self._collect(collecting, out)
            collecting = (idx, pending)
        if collecting is not None:
            self._collect(collecting, out)
        return [a for a in out if a is not None]

    def batches(self, utterances: Sequence[Utterance], max_batch: int | None = None) -> list[list[int]]:
        """Indices of `utterances` in the batches `synthesize` runs: length-sorted groups of at most
        `max_batch`. A static-shape runtime pads every batch to its bucket anyway, so it fills batches; a
        dynamic one pads rows to the widest, so a row joins only while that padding stays within
        `buckets.max_padding` of the batch (one long row beside short ones costs more than it saves)."""
        max_batch = max(1, max_batch or self.buckets.max_batch)
        order = sorted(range(len(utterances)), key=lambda i: len(utterances[i].ids))
        if self.runtime.static_shapes:
            return [order[s : s + max_batch] for s in range(0, len(order), max_batch)]
        least_useful = 1.0 - self.buckets.max_padding
        groups: list[list[int]] = []
        for i in order:  # ascending, so the newest row is the widest
            n = len(utterances[i].ids)
            g = groups[-1] if groups else None
            if g and len(g) < max_batch and sum(len(utterances[j].ids) for j in g) + n >= least_useful * n * (len(g) + 1):
                g.append(i)
            else:
                groups.append([i])
        return groups

    def _start(self, idx: Sequence[int], utterances: Sequence[Utterance]) -> _Pass:
        batch = [utterances[i] for i in idx]
        enc = self._encode(batch)
        return _Pass(batch, enc, self.ops.to_host_async(enc.frames))

    def _finish(self, p: _Pass, frames: list[int]) -> Any:
        """Stage 2 for a started batch; returns what `_collect` waits on (audio per row, trimmed)."""
        return self._vocode_async(self.latent(p.batch, p.enc, frames), frames, p.enc.g)

    @staticmethod
    def _collect(item: tuple[list[int], Any], out: list[np.ndarray | None]) -> None:
        idx, pending = item
        for i, audio in zip(idx, pending.result()):
            out[i] = audio

    def _encode(self, batch: Sequence[Utterance]) -> Encoded:
        """Stage 1 for a padded batch (ids padded to their bucket on static-shape runtimes)."""
        n_ids = max(len(u.ids) for u in batch)
        width = bucket_size(n_ids, self.buckets.id_edges) if self.runtime.static_shapes else n_ids
        ids, lengths = pad_ids([u.ids for u in batch], width)  # [b, width], [b]
        sid = np.array([u.speaker_id or 0 for u in batch], dtype=np.int64) if self.multi_speaker else None
        return self.runtime.encode(ids, lengths, self.knob_matrix(batch), self.seed_vector(batch), sid)

    def frame_width(self, frames: int) -> int:
        """Padded width of a frames pass over `frames` frames (exact for dynamic-shape runtimes)."""
        return bucket_size(frames, self.buckets.frame_edges) if self.runtime.static_shapes else frames

    def encode(self, batch: Sequence[Utterance]) -> tuple[Encoded, list[int]]:
        """Stage 1 alone for `batch`: (encoded, frames per utterance). The scheduler runs the frames stage
        (`runtime.frames`) over just a new stream's first frames from it, where the family allows."""
        enc = self._encode(batch)
        return enc, [int(f) for f in self.ops.to_host(enc.frames)]

    def latent(self, batch: Sequence[Utterance], enc: Encoded, frames: Sequence[int]) -> Any:
        """Stage 2 for `batch`'s stage-1 result: the vocoder's input frames [b, c, t_y], t_y padded as the
        runtime needs."""
        return self.runtime.frames(enc, self.knob_matrix(batch), self.seed_vector(batch), self.frame_width(max(frames)))

    def latents(self, batch: Sequence[Utterance]) -> tuple[Any, list[int], Any | None]:
        """Stages 1 and 2 for `batch`, padded as `run_batch` pads it: the vocoder's input [b, c, t_y], each
        utterance's frame count, and the speaker embedding (or None). The server's scheduler decodes
        these in windows of its own choosing, batched across requests."""
        enc, frames = self.encode(batch)
        return self.latent(batch, enc, frames), frames, enc.g

    def run_batch(self, batch: Sequence[Utterance]) -> list[np.ndarray]:
        """One padded forward pass over `batch`; each result is trimmed to its utterance's length."""
        z, frames, g = self.latents(batch)
        return self.vocode(z, frames, g)

    def vocode(self, z: Any, frames: Sequence[int], g: Any | None) -> list[np.ndarray]:
        """Audio of each row of a padded batch of vocoder input z [b, c, t_y], trimmed to its `frames`."""
        return self._vocode_async(z, list(frames), g).result()

    def _vocode_async(self, z: Any, frames: list[int], g: Any | None) -> Any:
        """The vocoder over a padded batch: in one pass trimmed on the device, unless the runtime
        wants more rows per pass than there are (`decode_rows`: ONNX Runtime on a CPU spreads rows over
        its threads), in which case whole-utterance windows go through `decode`, which splits them."""
        rows = int(getattr(self.runtime, "decode_rows", 1))
        if self.runtime.static_shapes or rows <= len(frames):
            audio = self.runtime.vocode(z, np.asarray(frames, dtype=np.int64), g)  # [b, t_y * hop]
            return self.ops.trim_async(audio, np.asarray(frames, dtype=np.int64) * self.hop)
        pieces = self.decode([(z[r : r + 1], None if g is None else g[r : r + 1], Window(0, f, 0, f, f))
                              for r, f in enumerate(frames)])
        return _Done(pieces)

    # --- windows ------------------------------------------------------------------------------------

    def decode(self, rows: Sequence[tuple[Any, Any | None, Window]]) -> list[np.ndarray]:
        """Audio of each (latent [1, c, n], speaker embedding, window): the window's core samples, from one
        decoder pass. A dynamic-shape runtime whose pass would have fewer rows than its `decode_rows`
        gets long windows split into exact sub-windows (`split_windows`), so its threads share the rows."""
        target = 1 if self.runtime.static_shapes else int(getattr(self.runtime, "decode_rows", 1))
        parts = split_windows([w for _, _, w in rows], self.context, target)  # (row, sub-window)
        width = max(self.decode_width(w) for _, w in parts)
        chunk = self.ops.zeros((len(parts), self.channels, width), like=rows[0][0])  # [p, c, width]
        for k, (row, w) in enumerate(parts):
            chunk[k, :, : w.stop - w.start] = rows[row][0][0, :, w.start : w.stop]
        lengths = np.array([w.stop - w.start for _, w in parts], dtype=np.int64)  # [p]
        g = None if rows[0][1] is None else self.ops.concat([rows[row][1] for row, _ in parts])  # [p, gin, 1]
        audio = self.ops.to_host(self.runtime.vocode(chunk, lengths, g))  # [p, width * hop]
        pieces: list[list[np.ndarray]] = [[] for _ in rows]
        for k, (row, w) in enumerate(parts):
            pieces[row].append(audio[k, (w.core_start - w.start) * self.hop : (w.core_stop - w.start) * self.hop])
        return [np.ascontiguousarray(np.concatenate(p) if len(p) > 1 else p[0], dtype=np.float32) for p in pieces]

    def decode_width(self, window: Window) -> int:
        """Padded width of a decoder window: its schedule size for static runtimes, its own size otherwise."""
        n = window.stop - window.start
        return max(window.size, n) if self.runtime.static_shapes else n

    def stream(self, utterance: Utterance, cfg: StreamConfig | None = None) -> Iterator[tuple[np.ndarray, bool]]:
        """The utterance's audio in pieces, each with a flag set on the last one: the vocoder runs over
        overlapping windows of its input frames and each piece is yielded as soon as it is decoded.

        Each window carries `self.context` frames of context on both sides, so the concatenated pieces
        equal `run_batch([utterance])` (up to float rounding). The first window is small, and where the
        family's frames stage has a finite reach (`FamilySpec.frames_reach`: VITS's flows) its frames
        come from a pass over just the frames it needs plus that reach (the noise is a function of the
        frame, so the head's noise is the whole sentence's), so the first piece does not wait for the
        frames stage over the whole sentence. These are the passes the server's scheduler batches across
        requests (`engine.passes`), run for one utterance. An autoregressive family's runtime streams its
        decoder too (`decode_stream`): windows are vocoded while later frames are still being decoded
        (`engine.decoding_stream`).
        """
        cfg = cfg or StreamConfig()
        if self.spec.decoder is not None and hasattr(self.runtime, "decode_stream"):
            yield from stream_while_decoding(self, utterance, cfg)
            return
        (latent,) = passes.head_latents(self, [utterance], [cfg.first_frames + self.context])
        plan = list(windows(latent.frames, self.context, cfg))
        z = latent.z
        for k, w in enumerate(plan):
            if k == 1 and latent.rest is not None:
                (z,) = passes.rest_latents(self, [latent])
            (audio,) = self.decode([(z, latent.g, w)])
            yield audio, k == len(plan) - 1

    def warmup(self, batch_sizes: Sequence[int] = (1,), stream: StreamConfig | None = None) -> None:
        """Build every graph a request can need before the first request: the runtime compiles its
        shapes for these batch sizes, the bucket edges and the streaming window sizes. Runtimes that
        run any shape (eager, onnx) have nothing to build and return at once."""
        warm = getattr(self.runtime, "warmup", None)
        if warm is None:
            return
        cfg = stream or StreamConfig()
        sizes = sorted({w.size for w in windows(self.buckets.frame_edges[-1] * 2, self.context, cfg)})
        warm(self.buckets, tuple(batch_sizes), tuple(sizes))

    @staticmethod
    def knob_matrix(batch: Sequence[Utterance]) -> np.ndarray:
        """The batch's knobs as the stages take them: float32 [b, K]."""
        return np.array([u.knobs for u in batch], dtype=np.float32).reshape(len(batch), -1)  # [b, K]

    @staticmethod
    def seed_vector(batch: Sequence[Utterance]) -> np.ndarray:
        """The batch's seeds: int64 [b]."""
        return np.array([u.seed for u in batch], dtype=np.int64)


class _Done:
    """A result that is already on the host."""

    def __init__(self, value: list[np.ndarray]) -> None:
        self._value = value

    def result(self) -> list[np.ndarray]:
        return self._value
