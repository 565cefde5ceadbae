"""VITS's decoder: the shared HiFi-GAN generator (`models.common.hifigan`) shaped by a `VitsConfig`.

Its state-dict names (`dec.conv_pre`, `dec.ups.N`, `dec.resblocks.N.convs1.K`, `dec.cond`) are those of
Piper voices; conv_post has no bias.
"""

from __future__ import annotations

from ..common.generator_config import GeneratorConfig, generator_reach
from ..common.hifigan import Generator as HifiGanGenerator
from .config import VitsConfig


def generator_config(cfg: VitsConfig) -> GeneratorConfig:
    """The generator shape of a VITS voice's decoder."""
    return GeneratorConfig(
        in_channels=cfg.inter_channels,
        upsample_initial_channel=cfg.upsample_initial_channel,
        upsample_rates=tuple(cfg.upsample_rates),
        upsample_kernel_sizes=tuple(cfg.upsample_kernel_sizes),
        resblock=cfg.resblock,
        resblock_kernel_sizes=tuple(cfg.resblock_kernel_sizes),
        resblock_dilation_sizes=tuple(tuple(d) for d in cfg.resblock_dilation_sizes),
        cond_channels=cfg.gin_channels,
        post_bias=False,
    )


def decoder_reach(cfg: VitsConfig) -> int:
    """Latent frames on each side that can influence a decoder output frame (an upper bound)."""
    return generator_reach(generator_config(cfg))


class Generator(HifiGanGenerator):
    """The HiFi-GAN generator with a VITS voice's decoder shape."""

    def __init__(self, cfg: VitsConfig) -> None:
        super().__init__(generator_config(cfg))
