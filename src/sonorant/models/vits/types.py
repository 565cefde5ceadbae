"""The data passed between VITS's stages, independent of the array library that holds it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Encoded:
    """Stage-1 results for a batch: prior statistics per phoneme and integer durations."""

    m_p: Any
    """Prior means [b, c, t_x]."""
    logs_p: Any
    """Prior log-stds [b, c, t_x]."""
    durations: Any
    """Frames per phoneme, integral floats [b, t_x] (zero on padding)."""
    frames: Any
    """Frames per utterance [b] (int64, at least 1)."""
    g: Any
    """Speaker embedding [b, gin, 1], or None for single-speaker voices."""
