"""The committed Encodec parity fixtures (`tests/fixtures/encodec`, made by `tools/encodec_fixtures.py`): paths,
the reference arrays and the error measure the tests assert."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from dle_cases import snr_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "encodec"
META = FIXTURES / "encodec_tiny.th"
"""Meta's format: torch.save(state_dict) of the shrunk causal 24 kHz model."""
HF = FIXTURES / "encodec_tiny_hf"
"""transformers' save_pretrained folder of the same weights."""
SNR_MIN_DB = 60.0
"""Smallest allowed SNR of audio against upstream's (and of batched / streamed against whole)."""
N_Q = 4
"""Codebooks the tiny model has (1024 codes of dimension 8 each)."""

__all__ = ["FIXTURES", "HF", "META", "N_Q", "SNR_MIN_DB", "reference", "snr_db"]


def reference() -> dict[str, np.ndarray]:
    """The arrays of `encodec_tiny_ref.npz` (raises if the fixture is missing: tests fail, never skip)."""
    with np.load(FIXTURES / "encodec_tiny_ref.npz") as d:
        return {k: d[k] for k in d.files}
