"""The one path from phoneme ids to trimmed audio: batching, bucket padding, per-utterance noise,
and sub-sentence streaming.

The API, the CLI and (later) the server and benchmark all synthesize through `Engine`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..models.vits import Encoded, Vits
from ..models.vits.noise import duration_noise, latent_noise
from ..runtimes import EagerRuntime, Runtime
from .buckets import BucketConfig, bucket_size
from .streaming import StreamConfig, Window, decoder_context_frames, flow_context_frames, split_windows, windows

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Utterance:
    """One model input: a sentence's ids and everything that decides its audio."""

    ids: tuple[int, ...]
    """Phoneme ids, BOS to EOS."""
    seed: int
    """Seed of this utterance's duration and latent noise."""
    length_scale: float
    """Duration multiplier."""
    noise_scale: float
    """Prior noise scale."""
    noise_w: float
    """Duration noise scale."""
    speaker_id: int | None = None
    """Speaker index for multi-speaker voices."""


class Engine:
    """Runs utterances through a runtime in length-sorted batches and returns each one's own samples."""

    def __init__(self, model: Vits, runtime: Runtime | None = None, buckets: BucketConfig | None = None) -> None:
        self.model = model
        self.runtime = runtime or EagerRuntime(model)
        self.buckets = buckets or BucketConfig.for_device(getattr(self.runtime, "device", "cpu"))
        self.hop = model.hop_length
        self.channels = model.cfg.inter_channels
        self.multi_speaker = model.cfg.n_speakers > 1
        self.context = decoder_context_frames(model.cfg)
        self.flow_context = flow_context_frames(model.cfg)

    def synthesize(self, utterances: Sequence[Utterance], max_batch: int | None = None) -> list[np.ndarray]:
        """Audio for each utterance, in input order; batches group utterances of similar length."""
        max_batch = max(1, max_batch or self.buckets.max_batch)
        order = sorted(range(len(utterances)), key=lambda i: len(utterances[i].ids))
        out: list[np.ndarray | None] = [None] * len(utterances)
        for start in range(0, len(order), max_batch):
            idx = order[start : start + max_batch]
            for i, audio in zip(idx, self.run_batch([utterances[i] for i in idx])):
                out[i] = audio
        return [a for a in out if a is not None]

    def _encode(self, batch: Sequence[Utterance]) -> tuple[Encoded, list[int], torch.Tensor]:
        """Stage 1 for a padded batch: (encoded, frames per utterance, latent noise [b, c, t_y bucket])."""
        static = self.runtime.static_shapes
        n_ids = [len(u.ids) for u in batch]
        width = bucket_size(max(n_ids), self.buckets.id_edges) if static else max(n_ids)
        ids = torch.zeros(len(batch), width, dtype=torch.long)
        for row, u in enumerate(batch):
            ids[row, : len(u.ids)] = torch.tensor(u.ids, dtype=torch.long)
        lengths = torch.tensor(n_ids, dtype=torch.long)
        dur_noise = torch.stack([
            duration_noise(u.seed, n, width) if u.noise_w > 0 else torch.zeros(2, width) for u, n in zip(batch, n_ids)
        ])
        sid = torch.tensor([u.speaker_id or 0 for u in batch], dtype=torch.long) if self.multi_speaker else None
        enc = self.runtime.encode(
            ids, lengths, self._vec(batch, "noise_w"), self._vec(batch, "length_scale"), dur_noise, sid
        )
        frames = [int(f) for f in enc.frames.cpu().tolist()]  # the one host read: picks the frame bucket
        n_frames = self._frame_width(max(frames))
        z_noise = torch.stack([
            latent_noise(u.seed, f, self.channels, n_frames) if u.noise_scale > 0 else torch.zeros(self.channels, n_frames)
            for u, f in zip(batch, frames)
        ])
        return enc, frames, z_noise

    def _frame_width(self, frames: int) -> int:
        """Padded latent width for `frames` frames (exact for dynamic-shape runtimes)."""
        return bucket_size(frames, self.buckets.frame_edges) if self.runtime.static_shapes else frames

    def _latent(self, batch: Sequence[Utterance]) -> tuple[torch.Tensor, list[int], torch.Tensor | None]:
        """Stages 1 and 2a for a padded batch: (latent [b, c, t_y], frames per utterance, speaker emb)."""
        enc, frames, z_noise = self._encode(batch)
        return self.runtime.latent(enc, self._vec(batch, "noise_scale"), z_noise), frames, enc.g

    def latents(self, batch: Sequence[Utterance]) -> tuple[torch.Tensor, list[int], torch.Tensor | None]:
        """Stages 1 and 2a for `batch`, padded as `run_batch` pads it: latent frames [b, c, t_y], each
        utterance's frame count, and the speaker embedding (or None). The server's scheduler decodes
        these in windows of its own choosing, batched across requests."""
        return self._latent(batch)

    def encode(self, batch: Sequence[Utterance]) -> tuple[Encoded, list[int], torch.Tensor]:
        """Stage 1 alone for `batch`: (encoded, frames per utterance, latent noise [b, c, t_y]). The
        scheduler runs the flows (`runtime.latent`) over just a new stream's first frames from it."""
        return self._encode(batch)

    def run_batch(self, batch: Sequence[Utterance]) -> list[np.ndarray]:
        """One padded forward pass over `batch`; each result is trimmed to its utterance's length."""
        z, frames, g = self._latent(batch)
        return self.vocode(z, frames, g)

    def vocode(self, z: torch.Tensor, frames: Sequence[int], g: torch.Tensor | None) -> list[np.ndarray]:
        """Audio of each row of a padded latent batch z [b, c, t_y], trimmed to its `frames`. A static-shape
        runtime decodes the padded batch as it is; a dynamic one decodes whole-utterance windows
        (`decode`), which may be split across its threads."""
        if self.runtime.static_shapes:
            audio = self.runtime.vocode(z, torch.tensor(list(frames)), g).numpy()  # [b, t_y * hop]
            return [np.ascontiguousarray(audio[row, : f * self.hop], dtype=np.float32) for row, f in enumerate(frames)]
        return self.decode([(z[row : row + 1], None if g is None else g[row : row + 1], Window(0, f, 0, f, f))
                            for row, f in enumerate(frames)])

    def decode(self, rows: Sequence[tuple[torch.Tensor, torch.Tensor | None, Window]]) -> list[np.ndarray]:
        """Audio of each (latent [1, c, n], speaker embedding, window): the window's core samples, from one
        decoder pass. A dynamic-shape runtime whose pass would have fewer rows than its `decode_rows`
        gets long windows split into exact sub-windows (`split_windows`), so its threads share the rows."""
        target = 1 if self.runtime.static_shapes else int(getattr(self.runtime, "decode_rows", 1))
        parts = split_windows([w for _, _, w in rows], self.context, target)  # (row, sub-window)
        width = max(self.decode_width(w) for _, w in parts)
        z0 = rows[0][0]
        chunk = torch.zeros(len(parts), self.channels, width, dtype=z0.dtype, device=z0.device)  # [p, c, width]
        for k, (row, w) in enumerate(parts):
            chunk[k, :, : w.stop - w.start] = rows[row][0][0, :, w.start : w.stop]
        lengths = torch.tensor([w.stop - w.start for _, w in parts], dtype=torch.long)  # [p]
        g = None if rows[0][1] is None else torch.cat([rows[row][1] for row, _ in parts])  # [p, gin, 1]
        audio = self.runtime.vocode(chunk, lengths, g).numpy()  # [p, width * hop]
        pieces: list[list[np.ndarray]] = [[] for _ in rows]
        for k, (row, w) in enumerate(parts):
            pieces[row].append(audio[k, (w.core_start - w.start) * self.hop : (w.core_stop - w.start) * self.hop])
        return [np.ascontiguousarray(np.concatenate(p) if len(p) > 1 else p[0], dtype=np.float32) for p in pieces]

    def decode_width(self, window: Window) -> int:
        """Padded width of a decoder window: its schedule size for static runtimes, its own size otherwise."""
        n = window.stop - window.start
        return max(window.size, n) if self.runtime.static_shapes else n

    def stream(self, utterance: Utterance, cfg: StreamConfig | None = None) -> Iterator[tuple[np.ndarray, bool]]:
        """The utterance's audio in pieces, each with a flag set on the last one: the decoder runs over
        overlapping windows of latent frames and each piece is yielded as soon as it is decoded.

        Each window carries `self.context` frames of context on both sides, so the concatenated pieces
        equal `run_batch([utterance])` (up to float rounding). The first window is small, and its latent
        frames come from a flow run over just the frames it needs plus the flow's own reach, so the
        first piece does not wait for the flow over the whole sentence.
        """
        enc, (n_frames,), z_noise = self._encode([utterance])
        noise_scale = self._vec([utterance], "noise_scale")
        plan = list(windows(n_frames, self.context, cfg or StreamConfig()))
        head = self._frame_width(plan[0].stop + self.flow_context)
        z = None
        if len(plan) > 1 and head < z_noise.shape[-1]:
            z = self.runtime.latent(enc, noise_scale, z_noise[:, :, :head])  # exact on [0, head - reach)
        for k, w in enumerate(plan):
            if k == 1 or z is None:
                z = self.runtime.latent(enc, noise_scale, z_noise)
            (audio,) = self.decode([(z, enc.g, w)])
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
    def _vec(batch: Sequence[Utterance], field: str) -> torch.Tensor:
        return torch.tensor([getattr(u, field) for u in batch], dtype=torch.float32)
