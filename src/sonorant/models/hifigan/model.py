"""A mel HiFi-GAN vocoder (NeMo's `HifiGanModel` at inference): mel frames -> waveform."""

from __future__ import annotations

import torch
from torch import nn

from ..common.generator_config import generator_reach
from ..common.hifigan import Generator
from .config import HifiGanConfig


class HifiGan(nn.Module):
    """The generator under NeMo's name (`generator.*`), with the mel config it expects."""

    def __init__(self, cfg: HifiGanConfig) -> None:
        super().__init__()
        if cfg.generator.hop != cfg.mel.hop:
            raise ValueError(f"the generator's upsampling gives {cfg.generator.hop} samples per frame, "
                             f"the mel hop is {cfg.mel.hop}")
        if cfg.generator.in_channels != cfg.mel.n_mels:
            raise ValueError(f"the generator takes {cfg.generator.in_channels} channels, the mel has {cfg.mel.n_mels}")
        self.cfg = cfg
        self.generator = Generator(cfg.generator)

    @property
    def reach(self) -> int:
        """Mel frames on each side that can change one output frame."""
        return generator_reach(self.cfg.generator)

    def forward(self, mel: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """mel [b, n_mels, t], lengths [b] (None: no row padded). Returns audio [b, t * hop]."""
        return self.generator(mel, lengths)
