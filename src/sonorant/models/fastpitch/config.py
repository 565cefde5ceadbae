"""Hyper-parameters of a NeMo FastPitch spectrogram generator at inference, torch-free."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..common.mel import MelConfig

SPEAKER_SITES = ("encoder", "duration", "pitch", "energy", "decoder")
"""Where a FastPitch can add its speaker embedding to a module's input (NeMo's "add" conditioning)."""


@dataclass(frozen=True)
class FFTConfig:
    """One feed-forward transformer stack (NeMo's `FFTransformerEncoder` / `FFTransformerDecoder`)."""

    n_layer: int = 6
    """Transformer layers."""
    n_head: int = 1
    """Attention heads."""
    d_head: int = 64
    """Width of each head."""
    d_inner: int = 1536
    """Channels of the convolutional feed-forward's hidden layer."""
    kernel_size: int = 3
    """Kernel of both feed-forward convolutions."""
    pre_lnorm: bool = False
    """Layer norm before each sub-layer (True) or after the residual add (False, NeMo's default)."""


@dataclass(frozen=True)
class PredictorConfig:
    """A temporal predictor (NeMo's `TemporalPredictor`): conv-ReLU-norm layers and a linear head."""

    filter_size: int = 256
    """Channels of the conv layers."""
    kernel_size: int = 3
    """Kernel of the conv layers."""
    n_layers: int = 2
    """Conv-ReLU-norm layers."""


@dataclass(frozen=True)
class FastPitchConfig:
    """The shape of a FastPitch generator; every field is read from a `.nemo` config and cross-checked with
    its weights."""

    n_vocab: int
    """Rows of the token embedding (the tokenizer's vocabulary size)."""
    padding_idx: int = 0
    """The tokenizer's pad id: positions holding it are masked, as NeMo masks them."""
    d_model: int = 384
    """Width of the token embedding and of both transformers (NeMo's `symbols_embedding_dim`)."""
    encoder: FFTConfig = field(default_factory=FFTConfig)
    """The input transformer (over tokens)."""
    decoder: FFTConfig = field(default_factory=FFTConfig)
    """The output transformer (over mel frames)."""
    duration_predictor: PredictorConfig = field(default_factory=PredictorConfig)
    """Predicts log(1 + duration) per token."""
    pitch_predictor: PredictorConfig = field(default_factory=PredictorConfig)
    """Predicts the normalized pitch per token."""
    energy_predictor: PredictorConfig | None = None
    """Predicts energy per token (None: the model has no energy branch)."""
    pitch_embedding_kernel_size: int = 3
    """Kernel of the Conv1d(1, d_model) embedding the pitch contour."""
    energy_embedding_kernel_size: int = 3
    """Kernel of the Conv1d(1, d_model) embedding the energy contour."""
    mel: MelConfig = field(default_factory=MelConfig)
    """The mel frames it emits (`mel.n_mels` bins): a vocoder must expect the same."""
    n_speakers: int = 1
    """Rows of the speaker embedding; 1 means a single-speaker model without one."""
    speaker_sites: tuple[str, ...] = ()
    """Modules whose input gets the speaker embedding added (a subset of `SPEAKER_SITES`)."""
    min_token_duration: float = 0.0
    """Lower clamp of each predicted duration, in frames (before pace)."""
    max_token_duration: float = 75.0
    """Upper clamp of each predicted duration, in frames (before pace)."""
    pitch_mean: float = 0.0
    """Mean pitch of the training data in Hz (0: unknown), the centre `pitch_scale` scales around."""
    pitch_std: float = 0.0
    """Pitch standard deviation in Hz (0: unknown): predicted pitch is in units of it, so a shift in Hz
    needs it (unknown disables `pitch_shift`)."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.speaker_sites) - set(SPEAKER_SITES))
        if unknown:
            raise ValueError(f"unknown speaker sites {unknown}; known: {', '.join(SPEAKER_SITES)}")
        if self.speaker_sites and self.n_speakers <= 1:
            raise ValueError("speaker_sites need a multi-speaker model (n_speakers > 1)")
        if "energy" in self.speaker_sites and self.energy_predictor is None:
            raise ValueError("speaker site 'energy' needs an energy predictor")

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-friendly values (nested dataclasses become dicts, tuples lists)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FastPitchConfig:
        """The config `to_dict` describes; unknown keys are an error, missing ones take defaults."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown FastPitchConfig fields: {', '.join(unknown)}")
        d = dict(data)
        for key in ("encoder", "decoder"):
            if isinstance(d.get(key), dict):
                d[key] = FFTConfig(**d[key])
        for key in ("duration_predictor", "pitch_predictor", "energy_predictor"):
            if isinstance(d.get(key), dict):
                d[key] = PredictorConfig(**d[key])
        if isinstance(d.get("mel"), dict):
            d["mel"] = MelConfig.from_dict(d["mel"])
        if "speaker_sites" in d:
            d["speaker_sites"] = tuple(d["speaker_sites"])
        return cls(**d)
