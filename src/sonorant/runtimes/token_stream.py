"""A token utterance's audio decoded as its tokens arrive (`TokenEngine.stream`).

Tokens come in as the decoder reads them back (`TokenDecoder.stream`); every `codebooks` of them make one
code frame (the frame-major interleaving of `TokenSpec.codes`). Frames are fed to the codec's stream
(`Codec.decode_stream`, its state carried: Encodec's LSTM state and causal context, a unit codec's held
lookahead) in the chunk sizes of the stream's schedule, each chunk as soon as that many frames exist; the
EOS token closes the stream, its last chunk being whatever frames remain (a trailing incomplete frame is
dropped, as `TokenSpec.codes` drops it). The codec's stream equals its whole decode, so the pieces
concatenate to the audio of the whole utterance's codes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from ..models.base import TokenSpec

_LOG = logging.getLogger(__name__)


class CodeStream:
    """One utterance's tokens (or codes) -> audio pieces, as they arrive."""

    def __init__(self, tokens: TokenSpec, codec: Any, device: torch.device, chunks: Sequence[int]) -> None:
        """`codec` is a `models.base.Codec` on `device`; `chunks` the frames of each chunk fed to it (the
        last size repeats)."""
        if not chunks or min(chunks) < 1:
            raise ConfigError(f"a code stream needs chunks of at least one frame, got {list(chunks)}")
        self.spec = tokens
        self.codec = codec
        self.device = device
        self.chunks = tuple(int(c) for c in chunks)
        self.state = codec.stream_state(1)
        self.pending = np.zeros(0, dtype=np.int64)
        """Tokens of the frame still incomplete (fewer than `codebooks`)."""
        self.codes = np.zeros((tokens.codebooks, 0), dtype=np.int64)
        """Whole code frames [K, n] not fed to the codec yet."""
        self.fed = 0
        """Chunks fed to the codec so far."""
        self.frames = 0
        """Code frames fed to the codec so far."""
        self.ending = False
        """True once the last tokens (EOS) or codes have been given."""
        self.closed = False
        """True once the last chunk has been decoded."""

    def feed(self, tokens: np.ndarray) -> Iterator[tuple[np.ndarray, bool]]:
        """New tokens of the utterance (an EOS, if there, ends it and must come last) -> the audio pieces
        they complete, each with a flag set on the utterance's last piece (which may be empty when the
        tokens ended exactly on a chunk's edge). The tokens are checked at once (a token that is not a code
        is a `TokenError`); each piece is decoded as the iterator reaches it: consume it before the next
        `feed`."""
        tokens = np.asarray(tokens, dtype=np.int64).reshape(-1)
        if not tokens.size:  # nothing new (a read that brought this row no token)
            return self._pieces()
        ends = np.flatnonzero(tokens == self.spec.eos)
        if ends.size and ends[0] != tokens.size - 1:
            raise ConfigError(f"tokens after EOS (at {int(ends[0])} of {tokens.size}) cannot be fed to a code stream")
        body = np.concatenate([self.pending, tokens[:ends[0]] if ends.size else tokens])
        whole = body.size - body.size % self.spec.codebooks
        codes = self.spec.codes(body[:whole])  # [K, whole / K]
        self.pending = body[whole:]
        return self.feed_codes(codes, last=bool(ends.size))

    def feed_codes(self, codes: np.ndarray, last: bool) -> Iterator[tuple[np.ndarray, bool]]:
        """New code frames [K, n] (`last`: the utterance's final ones) -> the audio pieces now complete (see
        `feed`). Chunks follow the schedule; the last chunk holds whatever frames remain."""
        if self.ending:
            raise ConfigError("this code stream has been given its last codes: start a new one")
        self.codes = np.concatenate([self.codes, codes], axis=1)
        self.ending = last
        return self._pieces()

    def finish(self) -> Iterator[tuple[np.ndarray, bool]]:
        """End the stream as if EOS had come now (an incomplete frame is dropped): its last pieces, if the
        stream has not ended already."""
        self.ending = True
        return self._pieces()

    def _pieces(self) -> Iterator[tuple[np.ndarray, bool]]:
        while not self.closed:
            size = self.chunks[min(self.fed, len(self.chunks) - 1)]
            if self.codes.shape[1] < size and not self.ending:
                return
            part, self.codes = self.codes[:, :size], self.codes[:, size:]  # [K, <= size]
            end = self.ending and self.codes.shape[1] == 0  # an empty last chunk flushes what the codec holds
            yield self._decode(part, end), end

    def _decode(self, part: np.ndarray, last: bool) -> np.ndarray:
        """One chunk of frames [K, n] through the codec's stream -> its audio now final [samples] f32."""
        with torch.no_grad():
            codes = torch.from_numpy(np.ascontiguousarray(part)[None]).to(self.device)  # [1, K, n]
            audio, self.state = self.codec.decode_stream(codes, self.state, last=last)
        self.fed += 1
        self.frames += part.shape[1]
        self.closed = last
        return audio[0].float().cpu().numpy()
