"""The committed DLE parity fixtures (`tests/fixtures/tacotron2`, made by `tools/dle_fixtures.py`): paths,
case loading and the error measures the parity tests assert."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tacotron2"
TACOTRON2 = FIXTURES / "tacotron2_tiny.pt"
WAVEGLOW = FIXTURES / "waveglow_tiny.pt"

MEMORY_TOL = 1e-5
"""Largest allowed |encoder memory - DLE's|."""
MEL_TOL = 1e-4
"""Largest allowed |mel - DLE's| (and between batched and single decodes)."""
SNR_MIN_DB = 60.0
"""Smallest allowed SNR of audio against DLE's (and of batched against single)."""


def case(name: str) -> dict[str, np.ndarray]:
    """The arrays of fixture `<name>.npz`."""
    with np.load(FIXTURES / f"{name}.npz") as d:
        return {k: d[k] for k in d.files}


def indices(ref: dict[str, np.ndarray], prefix: str) -> list[int]:
    """The i of every key `<prefix>_<i>`, sorted."""
    return sorted(int(m.group(1)) for k in ref if (m := re.fullmatch(rf"{prefix}_(\d+)", k)))


def snr_db(ref: np.ndarray, test: np.ndarray) -> float:
    """Signal-to-error ratio of `test` against `ref` in dB (inf if equal)."""
    ref = np.asarray(ref, np.float64)
    err = float(np.sum((ref - np.asarray(test, np.float64)) ** 2))
    return float("inf") if err == 0 else 10 * np.log10(float(np.sum(ref**2)) / err)
