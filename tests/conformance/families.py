"""The tiny model of each family the conformance suite runs, with utterances that fit it.

A family case is a model (`models.base.StagedModel`, random weights, small) and a handful of utterances of
different lengths and speakers; everything the suite checks is phrased in the contract's terms, so
adding a family here runs every conformance test on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from sonorant.engine import Utterance

FIXTURES = Path(__file__).parent.parent / "fixtures"


@dataclass
class FamilyCase:
    """One family's tiny model and the utterances to run through it."""

    name: str
    model: nn.Module
    utterances: list[Utterance]


def _ids(n: int, seed: int, n_vocab: int, low: int = 1) -> tuple[int, ...]:
    rng = np.random.default_rng(seed)
    return tuple(int(i) for i in rng.integers(low, n_vocab, n))


def vits_case(tiny_piper_voices: object) -> FamilyCase:
    """The multi-speaker tiny Piper voice (3 speakers, conditioned decoder), noise on."""
    model = tiny_piper_voices["multi"].model  # type: ignore[index]
    n_vocab = model.spec.n_vocab
    utts = [Utterance(_ids(n, n, n_vocab), 100 + n, (1.2, 0.667, 0.8), n % 3) for n in (5, 9, 17, 40, 61)]
    return FamilyCase("vits", model, utts)


def fastpitch_case() -> FamilyCase:
    """NeMo's tiny multi-speaker FastPitch (energy, speaker-conditioned predictors) with the tiny v1 HiFi-GAN."""
    from sonorant.voices.nemo import load_nemo_model

    model = load_nemo_model(FIXTURES / "nemo" / "fastpitch_tiny_multi.nemo", FIXTURES / "nemo" / "hifigan_tiny_v1.nemo")
    n_vocab = model.spec.n_vocab
    knobs = [(1.0, 0.0, 1.0), (1.3, 0.0, 1.0), (0.8, 20.0, 1.2), (1.0, -10.0, 0.8), (1.1, 0.0, 1.0)]
    utts = [Utterance(_ids(n, n, n_vocab - 3), 7, k, n % 3) for n, k in zip((5, 9, 17, 40, 61), knobs)]
    return FamilyCase("fastpitch", model, utts)


def tacotron2_case() -> FamilyCase:
    """DLE's tiny Tacotron2 (gate tuned to stop within ~15-80 steps) with the tiny WaveGlow and its denoiser:
    the autoregressive family (decode blocks, gate masks, per-step prenet noise)."""
    from sonorant.voices.nvidia import load_tacotron2_voice

    d = FIXTURES / "tacotron2"
    model = load_tacotron2_voice(d / "tacotron2_tiny.pt", d / "waveglow_tiny.pt", denoise=0.01, block=8)
    n_vocab = model.spec.n_vocab
    knobs = [(0.56, 0.6), (0.5, 0.9), (0.45, 0.6), (0.5, 0.3), (0.5, 0.6)]  # the first runs past 64 frames
    utts = [Utterance(_ids(n, n, n_vocab), 11 + n, k) for n, k in zip((5, 9, 17, 40, 61), knobs)]
    return FamilyCase("tacotron2", model, utts)


CASES: dict[str, Callable[..., FamilyCase]] = {"vits": vits_case, "fastpitch": fastpitch_case,
                                               "tacotron2": tacotron2_case}
"""Family name -> its case (VITS's needs the `tiny_piper_voices` fixture)."""
