"""Hyper-parameters of a VITS voice (Piper's x_low, low, medium and high qualities are all instances)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from ..common.generator_config import GeneratorConfig


@dataclass(frozen=True)
class VitsConfig:
    """The shape of a VITS generator at inference time; every field is read from a checkpoint."""

    n_vocab: int
    """Number of phoneme ids the text embedding knows."""
    hidden_channels: int = 192
    """Width of the text encoder and of the prior statistics' input."""
    inter_channels: int = 192
    """Channels of the latent z (the prior mean/log-std each have this many)."""
    filter_channels: int = 768
    """Width of the text encoder's feed-forward layers."""
    n_heads: int = 2
    """Attention heads in the text encoder."""
    n_layers: int = 6
    """Transformer layers in the text encoder."""
    kernel_size: int = 3
    """Kernel of the text encoder's feed-forward convolutions."""
    window_size: int = 4
    """Relative-position attention window (positions -w..w have their own embedding)."""
    use_sdp: bool = True
    """Stochastic duration predictor (True) or the deterministic one (False)."""
    dp_filter_channels: int = 192
    """Width of the duration predictor."""
    dp_kernel_size: int = 3
    """Kernel of the duration predictor's convolutions."""
    dp_n_layers: int = 3
    """Dilated depth-separable layers per block of the stochastic duration predictor."""
    dp_n_flows: int = 4
    """Spline coupling flows in the stochastic duration predictor (one is skipped at inference)."""
    dp_num_bins: int = 10
    """Bins of the rational-quadratic splines in the duration flows."""
    dp_tail_bound: float = 5.0
    """Spline range [-b, b]; outside it the transform is the identity."""
    flow_hidden_channels: int = 192
    """Width of the WaveNet layers inside the coupling flows."""
    flow_kernel_size: int = 5
    """Kernel of the coupling flows' WaveNet convolutions."""
    flow_dilation_rate: int = 1
    """Dilation growth per WaveNet layer in the flows."""
    flow_n_layers: int = 4
    """WaveNet layers per coupling flow."""
    n_flows: int = 4
    """Residual coupling flows (each followed by a channel flip)."""
    resblock: str = "2"
    """HiFi-GAN residual block type: "1" (three dilated conv pairs) or "2" (two dilated convs)."""
    resblock_kernel_sizes: tuple[int, ...] = (3, 5, 7)
    """Kernels of the parallel residual blocks after each upsampling."""
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 2), (2, 6), (3, 12))
    """Dilations of each residual block's convolutions."""
    upsample_rates: tuple[int, ...] = (8, 8, 4)
    """Stride of each transposed convolution; their product is the hop length."""
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 8)
    """Kernel of each transposed convolution."""
    upsample_initial_channel: int = 256
    """Channels after the decoder's first convolution (halved at each upsampling)."""
    n_speakers: int = 1
    """Speakers in the embedding table; 1 means a single-speaker voice without one."""
    gin_channels: int = 0
    """Width of the speaker embedding (0 for single-speaker voices)."""

    @property
    def hop_length(self) -> int:
        """Audio samples per latent frame."""
        hop = 1
        for rate in self.upsample_rates:
            hop *= rate
        return hop

    @property
    def generator(self) -> GeneratorConfig:
        """The shape of the HiFi-GAN decoder (the shared generator; conv_post without a bias)."""
        return GeneratorConfig(
            in_channels=self.inter_channels,
            upsample_initial_channel=self.upsample_initial_channel,
            upsample_rates=tuple(self.upsample_rates),
            upsample_kernel_sizes=tuple(self.upsample_kernel_sizes),
            resblock=self.resblock,
            resblock_kernel_sizes=tuple(self.resblock_kernel_sizes),
            resblock_dilation_sizes=tuple(tuple(d) for d in self.resblock_dilation_sizes),
            cond_channels=self.gin_channels,
            post_bias=False,
        )

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-friendly values (tuples become lists)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VitsConfig:
        """The config `to_dict` describes; unknown keys are an error, missing ones take defaults."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown VitsConfig fields: {', '.join(unknown)}")

        def tupled(v: Any) -> Any:
            return tuple(tupled(x) for x in v) if isinstance(v, list) else v

        return cls(**{k: tupled(v) for k, v in data.items()})
