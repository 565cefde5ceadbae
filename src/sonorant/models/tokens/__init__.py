"""Token models: an encoder-decoder transformer over discrete tokens with a static KV cache (toktts,
Spear-TTS and the token voices trained here). `config` is torch-free; `model` imports torch."""

from .config import StackConfig, TokenModelConfig

__all__ = ["StackConfig", "TokenModelConfig"]
