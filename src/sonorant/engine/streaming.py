"""Sub-sentence streaming: decode a sentence's latent frames in overlapping windows.

The decoder is convolutional, so its output at a sample depends only on latent frames within its
receptive field. A window that carries `context` extra frames on each side (at least the receptive
field) therefore yields exactly the samples the whole-sentence decode gives for its core frames.
Windows come in a few fixed sizes (small first for a fast first chunk, larger later) so a compiled
or oneDNN-backed decoder sees a handful of shapes, not one per window.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class StreamConfig:
    """Window schedule for streaming one sentence's decoder."""

    first_frames: int = 16
    """Core frames of the first window (16 frames x 256 hop = 186 ms at 22.05 kHz)."""
    growth: int = 2
    """Each window's core is this many times the previous one's, up to `max_frames`."""
    max_frames: int = 256
    """Largest window core."""
    relax_after_s: float = 1.0
    """A sentence that starts at least this many seconds of audio into a stream is decoded in equal
    windows of `max_frames` (`bulk()`): it is not needed that soon, and every small window's context
    frames are extra decoder work (about 30 % for a 4 s sentence on the small-first schedule)."""
    whole_sentences: bool = False
    """Decode each sentence in one pass and yield it as one chunk (`Voice.stream`): the least work per
    second of audio, for files and pipes, where the first chunk need not come before its sentence is done."""

    def bulk(self) -> StreamConfig:
        """Equal windows of `max_frames`: for whole-file synthesis and for sentences deep into a stream."""
        return replace(self, first_frames=self.max_frames, growth=1)

    def for_offset(self, seconds: float) -> StreamConfig:
        """The schedule for a sentence whose audio starts `seconds` into the stream."""
        return self.bulk() if seconds >= self.relax_after_s else self


@dataclass(frozen=True)
class Window:
    """One decoder call: input frames [start, stop), of which [core_start, core_stop) are emitted."""

    start: int
    """First input frame (core_start - context, clipped at 0)."""
    stop: int
    """One past the last input frame (core_stop + context, clipped at the sentence length)."""
    core_start: int
    """First frame whose samples this window emits."""
    core_stop: int
    """One past the last emitted frame."""
    size: int
    """Padded input size (fixed per schedule step, so shapes repeat)."""


def windows(n_frames: int, context: int, cfg: StreamConfig) -> Iterator[Window]:
    """Cover frames [0, n_frames) with windows whose cores tile it exactly."""
    core = max(1, cfg.first_frames)
    pos = 0
    while pos < n_frames:
        stop = min(n_frames, pos + core)
        yield Window(max(0, pos - context), min(n_frames, stop + context), pos, stop, core + 2 * context)
        pos = stop
        core = min(cfg.max_frames, core * max(1, cfg.growth))


MIN_SPLIT_CORE = 64
"""Fewest core frames of a sub-window from `split_windows`: each carries up to 2 x context extra frames."""


def split_windows(ws: Sequence[Window], context: int, rows: int) -> list[tuple[int, Window]]:
    """(index into `ws`, window) pairs that cover every window's core: the windows themselves, except that
    while there are fewer than `rows` pairs the one with the largest core is cut in two halves (each
    with at least `context` frames on both sides, inside the original window, so each half is as exact as
    it; the narrower half gets more context where that makes both equally wide).

    ONNX Runtime on a CPU spreads a pass's rows over its threads far better than it spreads one row (on
    2 cores a 300-frame utterance decodes 1.15-1.3x faster as two 163-frame rows in one pass), so a pass
    with fewer rows than threads is cut into more. Halves keep at least `MIN_SPLIT_CORE` core frames."""
    parts = list(enumerate(ws))
    while len(parts) < rows:
        j = max(range(len(parts)), key=lambda k: parts[k][1].core_stop - parts[k][1].core_start)
        i, w = parts[j]
        if w.core_stop - w.core_start < 2 * MIN_SPLIT_CORE:
            break
        mid = (w.core_start + w.core_stop) // 2
        left = Window(w.start, min(w.stop, mid + context), w.core_start, mid, 0)
        right = Window(max(w.start, mid - context), w.stop, mid, w.core_stop, 0)
        # Equal widths where the window allows (more context is as exact): a pass of equal rows
        # needs no padding masks, and whole sentences then only ever use the unmasked decoder graph.
        grow = (right.stop - right.start) - (left.stop - left.start)
        if grow > 0:
            left = replace(left, stop=min(w.stop, left.stop + grow))
        elif grow < 0:
            right = replace(right, start=max(w.start, right.start + grow))
        parts[j : j + 1] = [(i, replace(left, size=left.stop - left.start)),
                            (i, replace(right, size=right.stop - right.start))]
    return parts
