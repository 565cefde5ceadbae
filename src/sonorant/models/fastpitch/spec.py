"""FastPitch + a mel vocoder as a family (`models.base`): its spec and knobs, without torch."""

from __future__ import annotations

from ..base import FamilySpec, Knob
from ..common.generator_config import generator_reach
from ..hifigan.config import HifiGanConfig
from .config import FastPitchConfig

PITCH_SHIFT_RANGE = 400.0
"""Largest |pitch_shift| in Hz."""


def knobs(cfg: FastPitchConfig) -> tuple[Knob, ...]:
    """FastPitch's per-utterance controls, in the column order its stages read them: pace, pitch_shift,
    pitch_scale. A model whose config gives no pitch standard deviation cannot shift by Hz: its
    pitch_shift range is [0, 0]."""
    shift = PITCH_SHIFT_RANGE if cfg.pitch_std > 0 else 0.0
    shift_doc = "Hz added to the predicted pitch contour" + (
        "" if cfg.pitch_std > 0 else " (unavailable: this model's config gives no pitch_std)")
    return (
        Knob("pace", 1.0, 0.0, 10.0, "speaking speed: > 1 speaks faster (NeMo's pace)", positive=True, rate="pace"),
        Knob("pitch_shift", 0.0, -shift if shift else 0.0, shift, shift_doc),
        Knob("pitch_scale", 1.0, 0.0, 10.0, "multiplies the pitch contour's deviation from the voice's mean "
             "(0: monotone, > 1: livelier)"),
    )


def fastpitch_spec(cfg: FastPitchConfig, vocoder: HifiGanConfig) -> FamilySpec:
    """The family spec of a FastPitch paired with the mel HiFi-GAN `vocoder`."""
    return FamilySpec(
        family="fastpitch",
        sample_rate=vocoder.mel.sample_rate,
        hop=vocoder.generator.hop,
        n_vocab=cfg.n_vocab,
        token_channels=cfg.d_model,
        channels=cfg.mel.n_mels,
        cond_channels=cfg.d_model if "decoder" in cfg.speaker_sites else 0,
        n_speakers=cfg.n_speakers,
        knobs=knobs(cfg),
        encode_noise=None,
        frames_noise=None,
        vocoder_reach=generator_reach(vocoder.generator),
        frames_reach=None,  # the output transformer attends over the whole sentence
        extra={
            "padding_idx": cfg.padding_idx,
            "pitch_mean": cfg.pitch_mean,
            "pitch_std": cfg.pitch_std,
            "fastpitch": cfg.to_dict(),
            "vocoder": vocoder.to_dict(),
        },
    )
