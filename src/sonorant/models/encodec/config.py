"""The shape of a causal Encodec codec (Meta's `encodec_24khz` layout), torch-free."""

from __future__ import annotations

import math
from dataclasses import dataclass

PAD_MODES = ("reflect", "constant")
DEFAULT_BANDWIDTH = 1.5
"""kbps of the token TTS families: 2 codebooks of the 24 kHz model."""


@dataclass(frozen=True)
class EncodecConfig:
    """Hyper-parameters of a causal SEANet Encodec (defaults: Meta's 24 kHz model, 23.3 M parameters)."""

    sample_rate: int = 24_000
    """Audio samples per second."""
    dimension: int = 128
    """Channels of the latent frames, and of every codebook entry."""
    n_filters: int = 32
    """Channels at the audio end of the SEANet; doubled at each resampling stage."""
    ratios: tuple[int, ...] = (8, 5, 4, 2)
    """The decoder's upsampling ratios, in order (the encoder downsamples by them reversed)."""
    n_residual_layers: int = 1
    """Residual blocks after each resampling stage (dilations dilation_base ** j)."""
    kernel_size: int = 7
    """Kernel of the first convolution (audio -> filters in the encoder, latent -> filters in the decoder)."""
    last_kernel_size: int = 7
    """Kernel of the last convolution."""
    residual_kernel_size: int = 3
    """Kernel of the first convolution of each residual block (the second is 1)."""
    dilation_base: int = 2
    """Growth of the dilation from one residual block of a stage to the next."""
    compress: int = 2
    """A residual block's hidden channels are its channels divided by this."""
    lstm_layers: int = 2
    """Layers of the LSTM (with its skip connection) at the latent end of encoder and decoder (0: none)."""
    conv_shortcut: bool = True
    """Whether each residual block's skip path is a 1x1 convolution (Meta's `true_skip=False`) or the identity."""
    pad_mode: str = "reflect"
    """How the causal convolutions pad on the left: "reflect" (Meta's and transformers' default) or "constant"
    (zeros)."""
    n_q: int = 32
    """Codebooks of the residual vector quantizer (32 at 24 kbps)."""
    bins: int = 1024
    """Codes per codebook (a power of two)."""

    def __post_init__(self) -> None:
        if self.pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode must be one of {PAD_MODES}, got {self.pad_mode!r}")
        if self.bins < 2 or self.bins & (self.bins - 1):
            raise ValueError(f"bins must be a power of two, got {self.bins}")
        if not self.ratios or min(self.ratios) < 1:
            raise ValueError(f"ratios must be positive, got {self.ratios}")
        if min(self.dimension, self.n_filters, self.n_q, self.kernel_size, self.last_kernel_size,
               self.residual_kernel_size, self.compress, self.dilation_base) < 1:
            raise ValueError(f"sizes must be positive: {self}")

    @property
    def hop(self) -> int:
        """Audio samples per code frame (the product of the ratios: 320 at 24 kHz)."""
        return math.prod(self.ratios)

    @property
    def frame_rate(self) -> int:
        """Code frames per second, rounded up as Meta does (75 at 24 kHz)."""
        return math.ceil(self.sample_rate / self.hop)

    @property
    def bandwidths(self) -> tuple[float, ...]:
        """Bandwidths in kbps that use a whole number of codebooks, 1 to n_q (1.5 kbps per codebook at 24 kHz)."""
        per_q = math.log2(self.bins) * self.frame_rate / 1000
        return tuple(k * per_q for k in range(1, self.n_q + 1))

    def codebooks_for(self, bandwidth: float) -> int:
        """Codebooks used at `bandwidth` kbps, as Meta and transformers count them (2 at 1.5 kbps, 24 kHz):
        floor(bandwidth / kbps per codebook), at least 1. ValueError if that is more than the model has."""
        if not bandwidth > 0 or not math.isfinite(bandwidth):
            raise ValueError(f"bandwidth must be a positive number of kbps, got {bandwidth}")
        per_q = math.log2(self.bins) * self.frame_rate
        k = max(1, math.floor(bandwidth * 1000 / per_q))
        if k > self.n_q:
            raise ValueError(f"{bandwidth} kbps needs {k} codebooks; this model has {self.n_q} "
                             f"(at most {self.bandwidths[-1]:g} kbps)")
        return k

    def decoder_channels(self) -> list[int]:
        """Channels entering each upsampling stage of the decoder, then the last stage's output."""
        top = self.n_filters * 2 ** len(self.ratios)
        return [top // 2**i for i in range(len(self.ratios) + 1)]
