"""The shape of a HiFi-GAN generator (VITS's decoder, NeMo's mel vocoder) and its receptive field, torch-free."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class GeneratorConfig:
    """A HiFi-GAN generator: conv_pre, (leaky ReLU, transposed conv, mean of residual blocks) x N, conv_post."""

    in_channels: int = 80
    """Channels of the input frames (80 mel bins for NeMo's vocoder, VITS's latent width for its decoder)."""
    upsample_initial_channel: int = 512
    """Channels after conv_pre (halved at each upsampling)."""
    upsample_rates: tuple[int, ...] = (8, 8, 2, 2)
    """Stride of each transposed convolution; their product is the hop length."""
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 4, 4)
    """Kernel of each transposed convolution."""
    resblock: str = "1"
    """Residual block type: "1" (pairs of dilated + plain convs) or "2" (dilated convs only)."""
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    """Kernels of the parallel residual blocks after each upsampling."""
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    """Dilations of each residual block's convolutions."""
    cond_channels: int = 0
    """Width of a conditioning vector g added after conv_pre through a 1x1 conv `cond` (0: none)."""
    post_bias: bool = True
    """Whether conv_post has a bias (NeMo's does, VITS's does not)."""

    @property
    def hop(self) -> int:
        """Output samples per input frame."""
        return math.prod(self.upsample_rates)

    @property
    def out_channels(self) -> int:
        """Channels entering conv_post."""
        return self.upsample_initial_channel // 2 ** len(self.upsample_rates)

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-friendly values (tuples become lists)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeneratorConfig:
        """The config `to_dict` describes; unknown keys are an error, missing ones take defaults."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown GeneratorConfig fields: {', '.join(unknown)}")
        return cls(**{k: _tupled(v) for k, v in data.items()})


NEMO_V1 = GeneratorConfig()
"""NeMo's `generator/v1.yaml` (the 22.05 kHz LJSpeech HiFi-GAN, 13.9 M parameters)."""
NEMO_V2 = GeneratorConfig(upsample_initial_channel=128)
"""NeMo's `generator/v2.yaml` (v1 at a quarter of the width)."""
NEMO_V3 = GeneratorConfig(upsample_initial_channel=256, upsample_rates=(8, 8, 4), upsample_kernel_sizes=(16, 16, 8),
                          resblock="2", resblock_kernel_sizes=(3, 5, 7), resblock_dilation_sizes=((1, 2), (2, 6), (3, 12)))
"""NeMo's `generator/v3.yaml` (the lightest: type-2 residual blocks, three upsamplings)."""


def generator_reach(cfg: GeneratorConfig) -> int:
    """Input frames on each side that can change one output frame (an upper bound): what a window of
    frames needs on each side of its core for the core's samples to equal the whole-sentence decode."""
    reach = (7 - 1) / 2  # conv_pre, in input frames
    rate = 1  # output samples per input frame so far
    for up_rate, up_kernel in zip(cfg.upsample_rates, cfg.upsample_kernel_sizes):
        reach += math.ceil(up_kernel / up_rate) / rate  # transposed conv: input frames per output sample
        rate *= up_rate
        block_reach = 0
        for k, ds in zip(cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes):
            per_block = sum((k - 1) // 2 * d for d in ds)
            if cfg.resblock == "1":
                per_block += (k - 1) // 2 * len(ds)  # the undilated second conv of each pair
            block_reach = max(block_reach, per_block)
        reach += block_reach / rate
    reach += (7 - 1) / 2 / rate  # conv_post
    return math.ceil(reach) + 1


def _tupled(v: Any) -> Any:
    return tuple(_tupled(x) for x in v) if isinstance(v, list) else v
