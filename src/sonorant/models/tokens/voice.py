"""`TokenVoiceModel`: a token model and the codec that turns its tokens into audio, as one module the
token runtime runs (`runtimes.tokens`)."""

from __future__ import annotations

from torch import nn

from ...errors import VoiceError
from ..base import Codec, FamilySpec, TokenSpec
from .model import TokenTransformer


class TokenVoiceModel(nn.Module):
    """Source ids -> tokens (`transformer`) -> codes (`spec.tokens.codes`) -> audio (`codec`)."""

    def __init__(self, family: str, transformer: TokenTransformer, codec: Codec, max_tokens: int | None = None
                 ) -> None:
        super().__init__()
        self.transformer = transformer
        self.codec = codec
        cfg, cs = transformer.cfg, codec.spec
        if max_tokens is not None and not 1 <= max_tokens < cfg.max_target:
            raise VoiceError(f"max_tokens must be in 1..{cfg.max_target - 1}, got {max_tokens}")
        if cfg.codebooks != cs.codebooks:
            raise VoiceError(f"the token model interleaves {cfg.codebooks} codebooks but the codec decodes "
                             f"{cs.codebooks}")
        codes = min(cfg.bos, cfg.eos, cfg.pad)  # the specials sit above the codes in every format here
        if codes > cs.bins:
            raise VoiceError(f"the token model emits codes 0..{codes - 1} but the codec decodes only 0..{cs.bins - 1}")
        self.spec = FamilySpec(
            family=family, sample_rate=cs.sample_rate, hop=cs.hop, n_vocab=cfg.src_vocab,
            token_channels=cfg.decoder.dim, channels=cs.channels,
            tokens=TokenSpec(vocab=cfg.tgt_vocab, bos=cfg.bos, eos=cfg.eos, pad=cfg.pad, src_pad=cfg.src_pad,
                             max_tokens=max_tokens or cfg.max_target - 1, codebooks=cfg.codebooks, bins=cs.bins,
                             draft=cfg.early_exit_layer is not None),
            extra={"codec": cs.name})
