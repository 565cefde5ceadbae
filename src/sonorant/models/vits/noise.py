"""Per-utterance noise drawn from a seed, laid out frame-major so padding never changes it.

numpy's PCG64 `standard_normal` fills its output strictly in order, so drawing [n, c] frame-major
gives the same first k frames whatever n is: an utterance gets identical noise in any bucket and
any batch. (torch's CPU `randn` vectorises in blocks and recomputes the tail, so it lacks this.)
"""

from __future__ import annotations

import numpy as np
import torch

_DUR_STREAM = 0x5D
_Z_STREAM = 0x2A


def _normal(seed: int, stream: int, rows: int, cols: int) -> np.ndarray:
    gen = np.random.Generator(np.random.PCG64([int(seed), stream]))
    return gen.standard_normal((rows, cols), dtype=np.float32)  # [rows, cols], row-major fill


def duration_noise(seed: int, n_ids: int, width: int) -> torch.Tensor:
    """N(0, 1) noise [2, width] for the duration flows; ids past n_ids are zero."""
    out = np.zeros((2, width), dtype=np.float32)
    n = min(n_ids, width)
    out[:, :n] = _normal(seed, _DUR_STREAM, n, 2).T
    return torch.from_numpy(out)


def latent_noise(seed: int, n_frames: int, channels: int, width: int) -> torch.Tensor:
    """N(0, 1) noise [channels, width] for the prior sample; frames past n_frames are zero."""
    out = np.zeros((channels, width), dtype=np.float32)
    n = min(n_frames, width)
    out[:, :n] = _normal(seed, _Z_STREAM, n, channels).T
    return torch.from_numpy(out)
