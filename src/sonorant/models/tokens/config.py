"""The shape of a token model: an encoder-decoder transformer over discrete tokens (toktts, Spear-TTS, the
token voices trained here). Torch-free."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ...errors import ConfigError

_FFN = ("gelu", "geglu")
_GELU = ("tanh", "exact")
_NORM = ("layer", "rms")
_POSITIONS = ("learned", "rotary", "none")


@dataclass(frozen=True)
class StackConfig:
    """One transformer stack (the encoder or the decoder): pre-norm blocks of attention and feed-forward."""

    layers: int
    """Number of blocks."""
    dim: int
    """Model width d."""
    heads: int
    """Query heads."""
    kv_heads: int
    """Key/value heads (grouped-query attention when fewer than `heads`; query head q reads kv head
    q mod kv_heads)."""
    head_dim: int
    """Width of one head."""
    ffn_dim: int
    """Hidden width of the feed-forward block."""
    ffn: str = "gelu"
    """"gelu": Linear -> GELU -> Linear; "geglu": Linear to 2 x ffn_dim, value * GELU(gate), Linear."""
    gelu: str = "tanh"
    """GELU variant: "tanh" (GPT-2's approximation) or "exact" (erf)."""
    norm: str = "layer"
    """"layer": LayerNorm with a bias; "rms": normalize(x) * sqrt(dim) * gamma."""
    norm_eps: float = 1e-5
    """LayerNorm epsilon (RMS norm uses `F.normalize`'s own floor)."""
    bias: bool = True
    """Whether the linear layers of attention and feed-forward have biases."""
    ffn_bias: bool | None = None
    """Whether the feed-forward linear layers have biases (None: as `bias`; Spear-TTS: attention without,
    feed-forward with)."""
    causal: bool = True
    """Whether position i attends only to positions <= i (GPT-2's encoder is causal too)."""
    positions: str = "learned"
    """"learned" (an embedding table added to the input), "rotary" (on queries and keys) or "none"."""
    max_positions: int = 1024
    """Rows of the learned position table (the longest sequence the stack accepts)."""
    rotary_dim: int = 0
    """Leading dims of each head that rotary rotates (0: the whole head)."""
    rotary_theta: float = 10000.0
    """Rotary base frequency."""
    cross: bool = False
    """Whether each block cross-attends to the encoder's memory (the decoder)."""
    null_kv: bool = False
    """Whether cross-attention has a learned key/value pair that is always visible."""
    cross_kv_heads: int = 0
    """Key/value heads of cross-attention (0: as `kv_heads`; Spear-TTS groups only self-attention)."""
    final_norm: bool = True
    """Whether a norm follows the last block."""

    def __post_init__(self) -> None:
        for name, value, allowed in (("ffn", self.ffn, _FFN), ("gelu", self.gelu, _GELU), ("norm", self.norm, _NORM),
                                     ("positions", self.positions, _POSITIONS)):
            if value not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        for name in ("layers", "dim", "heads", "kv_heads", "head_dim", "ffn_dim", "max_positions"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("kv_heads", "cross_kv_heads"):
            if self.heads % (getattr(self, name) or self.kv_heads):
                raise ConfigError(f"heads ({self.heads}) must be a multiple of {name} ({getattr(self, name)})")
        rot = self.rotary_dim or self.head_dim
        if self.positions == "rotary" and (rot % 2 or rot > self.head_dim):
            raise ConfigError(f"rotary_dim must be even and at most head_dim ({self.head_dim}), not {rot}")


@dataclass(frozen=True)
class TokenModelConfig:
    """An encoder-decoder token model: source ids -> target tokens."""

    src_vocab: int
    """Source (text) ids the encoder accepts."""
    tgt_vocab: int
    """Target tokens (the logits' width)."""
    encoder: StackConfig
    """The encoder stack."""
    decoder: StackConfig
    """The decoder stack (`cross` set; its cross-attention keys/values read the encoder's width, which may
    differ from the decoder's, as in toktts' GPT-2 pairs)."""
    bos: int
    """The decoder's start token (its embedding is the first input unless `start_vector`)."""
    eos: int
    """The token that ends a row."""
    pad: int
    """Target padding id (may equal eos)."""
    src_pad: int = 0
    """Source padding id."""
    start_vector: bool = False
    """Whether the decoder's first input is a learned vector instead of bos's embedding."""
    tie_embeddings: bool = True
    """Whether the logits are the final hidden state times the target embedding table."""
    logits_bias: bool = False
    """Whether the logits (and the early-exit head) have a bias."""
    early_exit_layer: int | None = None
    """Decoder blocks run before the early-exit head (the speculative draft model), or None."""
    exit_ffn_dim: int = 0
    """Hidden width of a residual pre-norm feed-forward block (the decoder's kind) in front of the early-exit
    head's norm (0: none; Spear-TTS has one, 4 x dim x 2/3 wide whatever the decoder's width)."""
    max_target: int = 1024
    """Most target tokens a row may have, BOS included (the decoder's position limit)."""
    codebooks: int = 1
    """Codec codes per audio frame, interleaved in the target stream."""

    def __post_init__(self) -> None:
        if not self.decoder.cross:
            raise ConfigError("the decoder stack must cross-attend to the encoder (cross=True)")
        for name in ("bos", "eos", "pad"):
            if not 0 <= getattr(self, name) < self.tgt_vocab:
                raise ConfigError(f"{name} ({getattr(self, name)}) must be a target token below {self.tgt_vocab}")
        if self.early_exit_layer is not None and not 0 < self.early_exit_layer <= self.decoder.layers:
            raise ConfigError(f"early_exit_layer must be in 1..{self.decoder.layers}, not {self.early_exit_layer}")
        if self.exit_ffn_dim < 0 or (self.exit_ffn_dim and self.early_exit_layer is None):
            raise ConfigError(f"exit_ffn_dim ({self.exit_ffn_dim}) needs an early_exit_layer and must be >= 0")
        if self.decoder.positions == "learned" and self.max_target > self.decoder.max_positions:
            raise ConfigError(f"max_target ({self.max_target}) exceeds the decoder's {self.decoder.max_positions} "
                              "learned positions")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TokenModelConfig:
        """The inverse of `to_dict`."""
        d = dict(d)
        d["encoder"] = StackConfig(**d["encoder"])
        d["decoder"] = StackConfig(**d["decoder"])
        return cls(**d)
