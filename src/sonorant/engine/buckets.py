"""Shape buckets: the few padded sizes a compiled graph is built for."""

from __future__ import annotations

import bisect
from dataclasses import dataclass


@dataclass(frozen=True)
class BucketConfig:
    """Padded sizes for phoneme ids and latent frames, and how many utterances share a pass."""

    id_edges: tuple[int, ...] = (32, 64, 128, 256, 512)
    """Allowed padded id lengths; longer inputs round up to a multiple of the last edge."""
    frame_edges: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048)
    """Allowed padded frame counts; longer outputs round up to a multiple of the last edge."""
    max_batch: int = 4
    """Most utterances in one forward pass."""
    max_padding: float = 0.15
    """On dynamic-shape runtimes, the largest share of a batch's padded width that may be padding: a
    sentence joins a batch of shorter ones only while that holds (`Engine.batches`)."""

    @classmethod
    def for_device(cls, device: str | object = "cpu") -> "BucketConfig":
        """Good defaults for a device kind: one sentence per pass on a CPU (a few cores gain nothing from
        batching: measured on 2 cores, a 1,000-character text took 3.8 s batched by 4 against 3.1 s one
        sentence at a time with ONNX Runtime), large batches on an accelerator (one pass fills it better)."""
        kind = str(getattr(device, "type", device)).split(":")[0]
        if kind == "cpu":
            return cls(max_batch=1)
        return cls(max_batch=64)


def bucket_size(n: int, edges: tuple[int, ...]) -> int:
    """Smallest edge >= n, or n rounded up to a multiple of the largest edge."""
    if n <= 0:
        raise ValueError(f"bucket_size needs a positive size, got {n}")
    i = bisect.bisect_left(edges, n)
    if i < len(edges):
        return edges[i]
    top = edges[-1]
    return -(-n // top) * top
