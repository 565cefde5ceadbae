"""A Tacotron 2's shape (NVIDIA DeepLearningExamples' `Tacotron2`), torch-free."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

_DLE_NAMES = {
    "n_mel_channels": "n_mel", "n_symbols": "n_symbols", "symbols_embedding_dim": "embedding_dim",
    "encoder_kernel_size": "encoder_kernel", "encoder_n_convolutions": "encoder_convs",
    "encoder_embedding_dim": "encoder_dim", "attention_rnn_dim": "attention_rnn_dim",
    "attention_dim": "attention_dim", "attention_location_n_filters": "location_filters",
    "attention_location_kernel_size": "location_kernel", "decoder_rnn_dim": "decoder_rnn_dim",
    "prenet_dim": "prenet_dim", "max_decoder_steps": "max_decoder_steps", "gate_threshold": "gate_threshold",
    "postnet_embedding_dim": "postnet_dim", "postnet_kernel_size": "postnet_kernel",
    "postnet_n_convolutions": "postnet_convs",
}
"""DLE's `models.get_model_config` keys -> ours (the rest, dropout rates and training switches, are unused)."""


@dataclass(frozen=True)
class Tacotron2Config:
    """The hyper-parameters of a Tacotron 2 at inference (DLE's `tacotron2/arg_parser.py` defaults)."""

    n_mel: int = 80
    """Mel channels of each decoded frame."""
    n_symbols: int = 148
    """Rows of the symbol embedding (DLE's English symbol set)."""
    embedding_dim: int = 512
    """Width of the symbol embedding (the encoder's input)."""
    encoder_kernel: int = 5
    """Kernel of the encoder's convolutions."""
    encoder_convs: int = 3
    """Conv-BN-ReLU layers of the encoder."""
    encoder_dim: int = 512
    """Width of the encoder's convolutions and of its output memory (the BiLSTM's two directions together)."""
    attention_rnn_dim: int = 1024
    """Units of the attention LSTM cell."""
    attention_dim: int = 128
    """Width of the attention's query, memory and location projections."""
    location_filters: int = 32
    """Filters of the location convolution over [weights, cumulative weights]."""
    location_kernel: int = 31
    """Kernel of the location convolution (odd)."""
    decoder_rnn_dim: int = 1024
    """Units of the decoder LSTM cell."""
    prenet_dim: int = 256
    """Width of both prenet layers."""
    max_decoder_steps: int = 2000
    """Most frames one utterance may have."""
    gate_threshold: float = 0.5
    """A row stops after the step at which sigmoid(gate) exceeds this."""
    postnet_dim: int = 512
    """Channels of the postnet's hidden convolutions."""
    postnet_kernel: int = 5
    """Kernel of the postnet's convolutions (odd)."""
    postnet_convs: int = 5
    """Conv-BN layers of the postnet."""
    sample_rate: int = 22050
    """Sample rate of the audio its mels were computed from (DLE's data default; not in its model config)."""
    hop: int = 256
    """Audio samples per mel frame of its training data (DLE's data default; not in its model config)."""

    def __post_init__(self) -> None:
        if self.encoder_kernel % 2 == 0 or self.location_kernel % 2 == 0 or self.postnet_kernel % 2 == 0:
            raise ValueError("Tacotron2's convolution kernels must be odd")
        if self.encoder_dim % 2 or self.embedding_dim != self.encoder_dim:
            raise ValueError("Tacotron2 needs embedding_dim == encoder_dim, and an even encoder_dim")
        if self.postnet_convs < 2:
            raise ValueError("the postnet needs at least two convolutions")

    @property
    def postnet_reach(self) -> int:
        """Frames on each side of an output frame the postnet reads."""
        return self.postnet_convs * (self.postnet_kernel - 1) // 2

    @property
    def state_channels(self) -> int:
        """Width of the decoder's packed per-row state: attention LSTM (h, c), decoder LSTM (h, c), the
        attention context and the last frame."""
        return 2 * self.attention_rnn_dim + 2 * self.decoder_rnn_dim + self.encoder_dim + self.n_mel

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-friendly values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tacotron2Config:
        """The inverse of `to_dict` (unknown keys are an error)."""
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown Tacotron2Config fields: {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def from_dle(cls, config: dict[str, Any]) -> Tacotron2Config:
        """From the `config` dict DLE stores in its checkpoints (`models.get_model_config`'s keys); missing
        keys take DLE's defaults. Only one frame per step is supported."""
        if int(config.get("n_frames_per_step", 1)) != 1:
            raise ValueError(f"n_frames_per_step={config['n_frames_per_step']} (only 1 is supported, DLE's default)")
        kinds = {f.name: f.type for f in fields(cls)}
        out: dict[str, Any] = {}
        for dle, ours in (_DLE_NAMES | {"sampling_rate": "sample_rate", "hop_length": "hop"}).items():
            if dle in config:
                out[ours] = float(config[dle]) if kinds[ours] in ("float", float) else int(config[dle])
        return cls(**out)
