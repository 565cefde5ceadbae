"""A WaveGlow vocoder's shape (NVIDIA DeepLearningExamples' `WaveGlow`), torch-free."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class WaveGlowConfig:
    """The hyper-parameters of a WaveGlow at inference (DLE's `waveglow/arg_parser.py` defaults)."""

    n_mel: int = 80
    """Mel channels of the conditioning spectrogram."""
    n_flows: int = 12
    """Affine coupling flows."""
    n_group: int = 8
    """Audio samples folded into the channels of one flow position."""
    n_early_every: int = 4
    """Every this many flows, `n_early_size` channels leave (enter, at inference) the flow."""
    n_early_size: int = 2
    """Channels that leave at each early output."""
    wn_layers: int = 8
    """Dilated conv layers of each flow's WaveNet-like coupling network (dilations 1, 2, 4, ...)."""
    wn_channels: int = 512
    """Residual channels of the coupling network (256 in DLE's smaller published model)."""
    wn_kernel: int = 3
    """Kernel of the dilated convs (odd)."""
    upsample_kernel: int = 1024
    """Kernel of the transposed conv that upsamples the mel to the sample rate."""
    hop: int = 256
    """Audio samples per mel frame (the transposed conv's stride)."""
    sample_rate: int = 22050
    """Output samples per second (LJSpeech's)."""

    def __post_init__(self) -> None:
        if self.n_group % 2 or self.wn_kernel % 2 == 0 or self.wn_channels % 2:
            raise ValueError("WaveGlow needs an even n_group, an even wn_channels and an odd wn_kernel")
        if self.hop % self.n_group:
            raise ValueError(f"hop {self.hop} is not a multiple of n_group {self.n_group}")
        if self.remaining_channels <= 0:
            raise ValueError("the early outputs leave no channels for the last flows")

    @property
    def remaining_channels(self) -> int:
        """Channels of the last flows (the first ones at inference): n_group less every early output."""
        return self.n_group - self.n_early_size * ((self.n_flows - 1) // self.n_early_every)

    @property
    def trim(self) -> int:
        """Samples DLE cuts off the end of the upsampled mel (kernel - stride)."""
        return self.upsample_kernel - self.hop

    def flow_channels(self, k: int) -> int:
        """Audio channels flow k acts on."""
        return self.n_group - self.n_early_size * (k // self.n_early_every)

    def reach(self) -> int:
        """Mel frames on each side that can change one output frame (an upper bound).

        One mel frame f feeds upsampled samples [f * hop, f * hop + kernel), i.e. flow positions (groups of
        n_group samples) [f * hop / n_group, (f * hop + kernel - 1) / n_group]. Each flow's coupling network
        spreads by the sum of its dilations times (kernel - 1) / 2 positions on each side, and the flows
        chain. Converted back to frames and rounded up, plus one frame for the position within a frame."""
        per_frame = self.hop // self.n_group  # positions per frame
        spread = self.n_flows * sum(2 ** i for i in range(self.wn_layers)) * (self.wn_kernel - 1) // 2
        up_spread = (self.upsample_kernel - 1) // self.n_group  # positions one frame's kernel covers past its start
        back = math.ceil((spread + up_spread) / per_frame)  # frames before an output frame that reach it
        ahead = math.ceil(spread / per_frame)  # frames after it
        return max(back, ahead) + 1

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-friendly values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WaveGlowConfig:
        """The inverse of `to_dict` (unknown keys are an error)."""
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown WaveGlowConfig fields: {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def from_dle(cls, config: dict[str, Any]) -> WaveGlowConfig:
        """From the `config` dict DLE stores in its checkpoints (`models.get_model_config`'s keys:
        n_mel_channels, n_flows, n_group, n_early_every, n_early_size, WN_config{n_layers, n_channels,
        kernel_size}); missing keys take DLE's defaults."""
        wn = config.get("WN_config") or {}
        d = cls()
        return cls(
            n_mel=int(config.get("n_mel_channels", d.n_mel)),
            n_flows=int(config.get("n_flows", d.n_flows)),
            n_group=int(config.get("n_group", d.n_group)),
            n_early_every=int(config.get("n_early_every", d.n_early_every)),
            n_early_size=int(config.get("n_early_size", d.n_early_size)),
            wn_layers=int(wn.get("n_layers", d.wn_layers)),
            wn_channels=int(wn.get("n_channels", d.wn_channels)),
            wn_kernel=int(wn.get("kernel_size", d.wn_kernel)),
        )
