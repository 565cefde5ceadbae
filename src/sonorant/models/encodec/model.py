"""A causal Encodec (Meta's 24 kHz model) as a sonorant `Codec`: codes [b, K, T] <-> audio [b, T * hop].

Decoding sums the K codebook entries of each frame and runs the SEANet decoder. It is exact against Meta's
and transformers' implementations (weight norm folded at load), whole or streamed:

* `decode(codes, lengths)`: a padded batch gives every row what it gives alone. Frames past a row's length
  are decoded from zero latents (the decoder is causal, so they change nothing before them; zeros are also
  what a short row's first convolution pads with) and its audio past length * hop is zeroed.
* `decode_stream(codes, state, last)`: chunk by chunk with the convolutions' left context and the LSTM's
  (h, c) carried over; the concatenated chunks equal the whole decode. The reflect padding at the start
  means a stream's first audio waits for `start_frames` frames (7 at 24 kHz; or the end of the stream);
  after that every chunk's audio is final at once (lookahead 0).

`encode(audio)` (SEANet encoder + nearest-code residual quantization) gives Meta's codes, for tokenizing
training audio.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from ...errors import ConfigError
from ..base import CodecSpec
from .config import DEFAULT_BANDWIDTH, EncodecConfig
from .seanet import ResidualVQ, SeanetDecoder, SeanetEncoder


@dataclass(frozen=True)
class EncodecStream:
    """Where a stream of code chunks stands (`EncodecCodec.stream_state`, `decode_stream`)."""

    batch: int
    """Rows of the stream."""
    frames: int = 0
    """Code frames taken so far."""
    pending: torch.Tensor | None = None
    """Latents [b, dimension, n] held back before the first audio (fewer than `start_frames`)."""
    decoder: dict[str, Any] | None = None
    """The decoder's per-layer context once audio has started (`SeanetDecoder.stream`)."""
    done: bool = False
    """Whether the last chunk has been decoded."""


def _tracing() -> bool:
    return torch.jit.is_tracing() or torch.compiler.is_compiling()


class EncodecCodec(nn.Module):
    """Encodec codes <-> audio (see the module docstring). `codebooks` is K, the codebooks a code frame
    holds (default: as many as `bandwidth` kbps uses, 2 at 1.5 kbps for the 24 kHz model)."""

    def __init__(self, cfg: EncodecConfig, codebooks: int | None = None,
                 bandwidth: float = DEFAULT_BANDWIDTH) -> None:
        super().__init__()
        if codebooks is None:
            try:
                codebooks = cfg.codebooks_for(bandwidth)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        if not 1 <= int(codebooks) <= cfg.n_q:
            raise ConfigError(f"codebooks must be in [1, {cfg.n_q}] for this Encodec, got {codebooks}")
        self.cfg = cfg
        name = f"encodec_{cfg.sample_rate / 1000:g}khz".replace(".", "_")
        self.spec = CodecSpec(name=name, sample_rate=cfg.sample_rate, hop=cfg.hop, codebooks=int(codebooks),
                              bins=cfg.bins, channels=cfg.dimension, lookahead=0)
        self.quantizer = ResidualVQ(cfg)
        self.encoder = SeanetEncoder(cfg)
        self.decoder = SeanetDecoder(cfg)
        self.start_frames = self.decoder.start_frames(cfg)
        """Code frames a stream holds back before its first audio (the reflect padding's reach, plus one)."""

    # ------------------------------------------------------------------------------------------- checks

    def check_codes(self, codes: Any, lengths: Any = None) -> None:
        """ConfigError unless codes is an integer tensor [b, K, T] (T >= 1) whose codes within each row's
        length are in [0, bins), and lengths (if given) are [b] integers in [1, T]. Value checks read the
        tensors back, so they are skipped while tracing or compiling."""
        k, bins = self.spec.codebooks, self.spec.bins
        if not isinstance(codes, torch.Tensor) or codes.is_floating_point() or codes.is_complex():
            raise ConfigError(f"Encodec codes must be an integer tensor, got {getattr(codes, 'dtype', type(codes))}")
        if codes.dim() != 3 or codes.shape[1] != k or codes.shape[2] < 1:
            raise ConfigError(f"Encodec codes must be [batch, {k} codebooks, frames >= 1], got {list(codes.shape)}")
        b, _, t = codes.shape
        if lengths is not None:
            if (not isinstance(lengths, torch.Tensor) or lengths.is_floating_point() or lengths.dim() != 1
                    or lengths.shape[0] != b):
                raise ConfigError(f"lengths must be an integer tensor [{b}], got {getattr(lengths, 'shape', lengths)}")
        if _tracing():
            return
        if lengths is not None:
            bad = (lengths < 1) | (lengths > t)
            if bool(bad.any()):
                i = int(bad.nonzero()[0, 0])
                raise ConfigError(f"lengths[{i}] = {int(lengths[i])} is outside [1, {t}] frames")
            inside = torch.arange(t, device=codes.device)[None, None, :] < lengths[:, None, None]
        else:
            inside = torch.ones_like(codes, dtype=torch.bool)
        bad = inside & ((codes < 0) | (codes >= bins))
        if bool(bad.any()):
            row, book, frame = (int(v) for v in bad.nonzero()[0])
            raise ConfigError(f"Encodec code {int(codes[row, book, frame])} (row {row}, codebook {book}, frame "
                              f"{frame}) is outside [0, {bins})")

    # ---------------------------------------------------------------------------------------- decoding

    def forward(self, codes: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """codes [b, K, T] -> audio [b, T * hop] with no checks (static shapes: the graph runtimes trace)."""
        if lengths is None:
            return self.decoder(self.quantizer.embed(codes))[:, 0]
        t = codes.shape[-1]
        live = torch.arange(t, device=codes.device)[None, :] < lengths[:, None]  # [b, T]
        z = self.quantizer.embed(codes * live[:, None, :])  # [b, d, T]
        audio = self.decoder(z * live[:, None, :].to(z.dtype))[:, 0]  # [b, T * hop]
        hop = self.spec.hop
        keep = torch.arange(t * hop, device=codes.device)[None, :] < (lengths * hop)[:, None]  # [b, T * hop]
        return audio * keep.to(audio.dtype)

    def decode(self, codes: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """codes [b, K, T] int64 -> audio [b, T * hop] f32; `lengths` [b] frames (audio past a row's length is
        zero, and a row's audio does not depend on what pads it). ConfigError for bad codes."""
        self.check_codes(codes, lengths)
        return self(codes, lengths)

    def stream_state(self, batch: int) -> EncodecStream:
        """The state before the first chunk of a stream of `batch` rows."""
        if batch < 1:
            raise ConfigError(f"a stream needs at least one row, got {batch}")
        return EncodecStream(batch=batch)

    def decode_stream(self, codes: torch.Tensor, state: EncodecStream, last: bool
                      ) -> tuple[torch.Tensor, EncodecStream]:
        """codes [b, K, t] (the next chunk; t may be 0) -> (audio [b, n * hop] for the n frames now final, the
        new state). Audio starts once `start_frames` frames (or the last chunk) have come; from then on every
        chunk's frames are final at once.

        Rows advance together. A row that ends early may be fed any valid codes after its end and its audio
        there dropped: being causal, its own audio does not change, unless the whole row is shorter than
        `start_frames` (its start then reflects the filler; decode such a row with `decode` and `lengths`)."""
        if state.done:
            raise ConfigError("this Encodec stream has ended (its last chunk was decoded): start a new one")
        k = self.spec.codebooks
        if (not isinstance(codes, torch.Tensor) or codes.dim() != 3 or codes.shape[0] != state.batch
                or codes.shape[1] != k):
            raise ConfigError(f"a chunk must be codes [{state.batch}, {k}, frames], got "
                              f"{list(getattr(codes, 'shape', []))}")
        n = codes.shape[-1]
        if n:
            self.check_codes(codes)
        z = self.quantizer.embed(codes) if n else None  # [b, d, n]
        state = replace(state, frames=state.frames + n, done=last)
        if state.decoder is None:
            if state.pending is not None:
                z = state.pending if z is None else torch.cat([state.pending, z], dim=-1)
            held = 0 if z is None else z.shape[-1]
            if held == 0 or (held < self.start_frames and not last):
                return self._no_audio(state.batch), replace(state, pending=z)
            audio, ctx = self.decoder.stream(z, None)
        elif z is None:
            return self._no_audio(state.batch), state
        else:
            audio, ctx = self.decoder.stream(z, state.decoder)
        return audio[:, 0], replace(state, pending=None, decoder=ctx)

    def _no_audio(self, batch: int) -> torch.Tensor:
        book = self.quantizer.codebooks
        return torch.zeros(batch, 0, dtype=book.dtype, device=book.device)

    # ---------------------------------------------------------------------------------------- encoding

    def encode(self, audio: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """audio [b, n] (or [b, 1, n]) at `spec.sample_rate` -> codes [b, K, ceil(n / hop)], Meta's codes for
        the same audio. With `lengths` [b] (samples), each row is encoded alone at its own length (the
        encoder pads a sequence's end) and its codes past ceil(length / hop) frames are zero."""
        if not isinstance(audio, torch.Tensor) or not audio.is_floating_point():
            raise ConfigError("audio to encode must be a float tensor [batch, samples]")
        if audio.dim() == 3 and audio.shape[1] == 1:
            audio = audio[:, 0]
        if audio.dim() != 2 or audio.shape[1] < 1:
            raise ConfigError(f"audio to encode must be [batch, samples >= 1] (mono), got {list(audio.shape)}")
        x = audio.to(self.quantizer.codebooks.dtype)
        if lengths is None:
            return self.quantizer.encode(self.encoder(x[:, None]), self.spec.codebooks)
        if lengths.dim() != 1 or lengths.shape[0] != x.shape[0] or bool(((lengths < 1) | (lengths > x.shape[1])).any()):
            raise ConfigError(f"lengths must be [{x.shape[0]}] sample counts in [1, {x.shape[1]}]")
        hop = self.spec.hop
        out = torch.zeros(x.shape[0], self.spec.codebooks, -(-x.shape[1] // hop), dtype=torch.int64,
                          device=x.device)
        for i, n in enumerate(lengths.tolist()):
            codes = self.quantizer.encode(self.encoder(x[i : i + 1, None, :n]), self.spec.codebooks)
            out[i, :, : codes.shape[-1]] = codes[0]
        return out
