"""The committed NeMo parity fixtures (`tests/fixtures/nemo`, made by `tools/nemo_fixtures.py`): paths,
case loading and the error measures the parity tests assert."""

from __future__ import annotations

from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nemo"
FASTPITCH = FIXTURES / "fastpitch_tiny.nemo"
FASTPITCH_MULTI = FIXTURES / "fastpitch_tiny_multi.nemo"
HIFIGAN_V1 = FIXTURES / "hifigan_tiny_v1.nemo"
HIFIGAN_V3 = FIXTURES / "hifigan_tiny_v3.nemo"

MEL_TOL = 1e-4
"""Largest allowed |mel - NeMo's mel|."""
SNR_MIN_DB = 60.0
"""Smallest allowed SNR of audio against NeMo's."""


def case(name: str) -> dict[str, np.ndarray]:
    """The arrays of fixture `<name>.npz`."""
    with np.load(FIXTURES / f"{name}.npz") as d:
        return {k: d[k] for k in d.files}


def snr_db(ref: np.ndarray, test: np.ndarray) -> float:
    """Signal-to-error ratio of `test` against `ref` in dB (inf if equal)."""
    err = float(np.sum((np.asarray(ref, np.float64) - test) ** 2))
    return float("inf") if err == 0 else 10 * np.log10(float(np.sum(np.asarray(ref, np.float64) ** 2)) / err)
