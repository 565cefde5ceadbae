"""Tacotron 2 + WaveGlow as a family (`models.base`): its spec and knobs, without torch."""

from __future__ import annotations

import math

from ..base import Decoder, FamilySpec, Knob, Noise
from ..waveglow.config import WaveGlowConfig
from .config import Tacotron2Config

PRENET_STREAM = 0x71
"""Noise stream of the decode stage: the sign of each draw is a prenet dropout keep mask (Bernoulli 0.5)."""
WAVEGLOW_STREAM = 0x3C
"""Noise stream of WaveGlow's Gaussian draws (passed through the frames stage, scaled by sigma)."""
KNOB_NAMES = ("gate_threshold", "sigma")
"""The knob columns, in order."""
DENOISER_FFT = 1024
"""Filter length of the WaveGlow denoiser's short-time Fourier transform (DLE's)."""


def knobs(cfg: Tacotron2Config) -> tuple[Knob, ...]:
    """Tacotron2 + WaveGlow's per-utterance controls, in column order: gate_threshold, sigma."""
    return (
        Knob("gate_threshold", cfg.gate_threshold, 0.0, 0.99, "a sentence ends after the step whose stop "
             "probability exceeds this (lower: ends earlier)", positive=True),
        Knob("sigma", 0.6, 0.0, 2.0, "scale of WaveGlow's Gaussian draws (0: its mean waveform; "
             "DLE's TensorRT default 0.6)"),
    )


def denoiser_reach(hop: int) -> int:
    """Frames on each side that the denoiser's transform and inverse can carry a change across."""
    return math.ceil(DENOISER_FFT / hop) + 1


def tacotron2_spec(cfg: Tacotron2Config, waveglow: WaveGlowConfig, block: int = 16, max_steps: int | None = None,
                   denoise: float = 0.0) -> FamilySpec:
    """The family spec of a Tacotron2 paired with `waveglow`; `block` decode steps per call, `max_steps`
    (None: the config's) frames at most per sentence, `denoise` the denoiser's strength (0: off)."""
    noise_channels = waveglow.hop  # n_group channels x hop / n_group positions per frame
    reach = waveglow.reach() + (denoiser_reach(waveglow.hop) if denoise > 0 else 0)
    steps = cfg.max_decoder_steps if max_steps is None else max_steps
    return FamilySpec(
        family="tacotron2",
        sample_rate=waveglow.sample_rate,
        hop=waveglow.hop,
        n_vocab=cfg.n_symbols,
        token_channels=cfg.encoder_dim + cfg.attention_dim,
        channels=cfg.n_mel + noise_channels,
        knobs=knobs(cfg),
        frames_noise=Noise(WAVEGLOW_STREAM, noise_channels),
        vocoder_reach=reach,
        frames_reach=cfg.postnet_reach,
        planar_vocoder=False,  # WaveGlow groups samples by reshaping the time axis
        decoder=Decoder(block=block, max_steps=steps, state_channels=cfg.state_channels, attn_channels=2,
                        frame_channels=cfg.n_mel, noise=Noise(PRENET_STREAM, 2 * cfg.prenet_dim)),
        extra={"tacotron2": cfg.to_dict(), "waveglow": waveglow.to_dict(), "denoise": denoise},
    )
