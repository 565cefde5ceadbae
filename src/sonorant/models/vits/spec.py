"""VITS as a family (`models.base`): its spec, knobs and receptive fields, without torch."""

from __future__ import annotations

from ...arrays import DURATION_STREAM, LATENT_STREAM
from ..base import FamilySpec, Knob, Noise
from ..common.generator_config import generator_reach
from .config import VitsConfig

KNOBS = (
    Knob("length_scale", 1.0, 0.0, 20.0, "duration multiplier: > 1 speaks slower", positive=True, rate="duration"),
    Knob("noise_scale", 0.667, 0.0, 10.0, "prior noise (expressiveness); 0 is deterministic given durations"),
    Knob("noise_w", 0.8, 0.0, 10.0, "duration noise (rhythm variation); 0 gives deterministic durations"),
)
"""VITS's per-utterance controls, in the column order its stages read them."""


def decoder_reach(cfg: VitsConfig) -> int:
    """Latent frames on each side that can influence a decoder output frame (an upper bound)."""
    return generator_reach(cfg.generator)


def flow_reach(cfg: VitsConfig) -> int:
    """Latent frames on each side that can influence one output frame of the inverse flows: each
    coupling layer's WaveNet reaches (kernel - 1) / 2 * dilation frames per layer; the rest is 1x1."""
    per_flow = sum((cfg.flow_kernel_size - 1) // 2 * cfg.flow_dilation_rate**i for i in range(cfg.flow_n_layers))
    return cfg.n_flows * per_flow


def vits_spec(cfg: VitsConfig, sample_rate: int = 22050) -> FamilySpec:
    """The family spec of a VITS generator with config `cfg`."""
    return FamilySpec(
        family="vits",
        sample_rate=int(sample_rate),
        hop=cfg.hop_length,
        n_vocab=cfg.n_vocab,
        token_channels=2 * cfg.inter_channels,
        channels=cfg.inter_channels,
        cond_channels=cfg.gin_channels if cfg.n_speakers > 1 else 0,
        n_speakers=cfg.n_speakers,
        knobs=KNOBS,
        encode_noise=Noise(DURATION_STREAM, 2),
        frames_noise=Noise(LATENT_STREAM, cfg.inter_channels),
        vocoder_reach=decoder_reach(cfg),
        frames_reach=flow_reach(cfg),
        extra={"config": cfg.to_dict()},
    )
