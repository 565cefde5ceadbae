"""VITS's decoder: the shared HiFi-GAN generator (`models.common.hifigan`) shaped by a `VitsConfig`.

Its state-dict names (`dec.conv_pre`, `dec.ups.N`, `dec.resblocks.N.convs1.K`, `dec.cond`) are those of
Piper voices; conv_post has no bias. Its receptive field: `spec.decoder_reach`.
"""

from __future__ import annotations

from ..common.hifigan import Generator as HifiGanGenerator
from .config import VitsConfig


class Generator(HifiGanGenerator):
    """The HiFi-GAN generator with a VITS voice's decoder shape (`VitsConfig.generator`)."""

    def __init__(self, cfg: VitsConfig) -> None:
        super().__init__(cfg.generator)
