"""The engine of token families: utterances -> tokens -> codes -> audio, batched and bucketed.

Utterances are grouped by how they decode (method, beams, draft, bound: one loop per group), sorted by
length and cut into batches; each row's per-utterance settings (seed, temperature, top-k, top-p) travel
as tensors, so mixing them never builds another graph. Like `Engine`, it holds no tensor library: the
runtime (`runtimes.tokens.TokenRuntime`) does the device work.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import Decoding
from ..errors import ConfigError
from .buckets import BucketConfig
from .engine import Utterance
from .streaming import StreamConfig

if TYPE_CHECKING:
    from ..runtimes.token_stream import CodeStream

_LOG = logging.getLogger(__name__)

_DEFAULT = Decoding()


class TokenEngine:
    """Runs a token family's utterances through a `TokenRuntime`."""

    def __init__(self, runtime: Any, buckets: BucketConfig | None = None, max_batch: int | None = None) -> None:
        self.runtime = runtime
        self.spec = runtime.spec
        self.buckets = buckets or BucketConfig()
        self.max_batch = max_batch or self.buckets.max_batch

    @staticmethod
    def decoding(u: Utterance) -> Decoding:
        """An utterance's decoding settings (the greedy default if it has none)."""
        return u.decoding or _DEFAULT

    def tokens(self, utterances: Sequence[Utterance], stats: Any = None) -> list[np.ndarray]:
        """Each utterance's generated tokens (EOS last), in order."""
        out: list[np.ndarray | None] = [None] * len(utterances)
        groups: dict[tuple, list[int]] = {}
        for i, u in enumerate(utterances):
            d = self.decoding(u)
            groups.setdefault((d.method, d.beams, d.draft, d.max_tokens, d.length_penalty, d.min_tokens),
                              []).append(i)
        for idx in groups.values():
            idx.sort(key=lambda i: len(utterances[i].ids))
            for start in range(0, len(idx), self.max_batch):
                part = idx[start:start + self.max_batch]
                first = self.decoding(utterances[part[0]])
                mixed = {(self.decoding(utterances[i]).temperature, self.decoding(utterances[i]).top_k,
                          self.decoding(utterances[i]).top_p) for i in part}
                if len(mixed) > 1:  # rows with other sampling settings run as their own batches
                    for i in part:
                        out[i] = self._generate([utterances[i]], self.decoding(utterances[i]), stats)[0]
                    continue
                for i, tokens in zip(part, self._generate([utterances[i] for i in part], first, stats)):
                    out[i] = tokens
        return [t for t in out if t is not None]

    def _generate(self, batch: Sequence[Utterance], opts: Decoding, stats: Any) -> list[np.ndarray]:
        return self.runtime.generate([u.ids for u in batch], [u.seed for u in batch], opts, stats)

    def codes(self, tokens: np.ndarray) -> np.ndarray:
        """An utterance's tokens -> codec codes [K, T]."""
        return self.spec.tokens.codes(np.asarray(tokens))

    def audio(self, codes: Sequence[np.ndarray], max_batch: int | None = None) -> list[np.ndarray]:
        """Each utterance's codes [K, T] -> its audio, decoded in batches of `max_batch` (the engine's)."""
        out: list[np.ndarray] = []
        step = max_batch or max(self.max_batch, 1)
        for start in range(0, len(codes), step):
            out.extend(self.runtime.vocode(codes[start:start + step]))
        return out

    def synthesize(self, utterances: Sequence[Utterance], max_batch: int | None = None) -> list[np.ndarray]:
        """Each utterance's audio, in order."""
        return self.audio([self.codes(t) for t in self.tokens(utterances)], max_batch)

    def stream(self, utterance: Utterance, cfg: StreamConfig | None = None) -> Iterator[tuple[np.ndarray, bool]]:
        """One utterance's audio in pieces, each with a flag set on the last, yielded while its tokens are
        still being generated: the decoder hands over each block of new tokens as it reads them back
        (`TokenRuntime.stream_tokens`; the same graphs and tokens as `tokens`), and the codec decodes each
        chunk of the schedule (`_chunks`: small first, growing) as soon as its frames exist, its state
        carried (`runtimes.token_stream`). The pieces concatenate to `synthesize`'s audio; the last one may
        be empty (when the tokens end exactly on a chunk's edge).

        Beam search cannot stream its tokens (the best hypothesis can change until the search ends): its
        audio streams after the search, chunk by chunk. A row that does not end within the bound raises
        `DecodeLimitError` (the tokens on its `tokens`) after the pieces of every chunk completed before the
        bound: the caller has then had that audio, none of it flagged last."""
        audio = self.code_stream(cfg)
        for new in self.stream_tokens([utterance]):
            yield from _audible(audio.feed(new[0]))
        yield from _audible(audio.finish())  # nothing: the tokens ended on EOS (a bound raised above)

    def stream_tokens(self, utterances: Sequence[Utterance]) -> Generator[list[np.ndarray], None, None]:
        """The new tokens of each utterance (one array per row, maybe empty) after every host read of one
        decoding loop over all of them (`TokenRuntime.stream_tokens`): each row's reads concatenate to its
        `tokens`. The rows must share their decoding settings but the seed (one loop); a row that does not end
        within the bound: its tokens are yielded, then `DecodeLimitError` (every row's tokens on `tokens`).
        Closing the generator stops the loop at that read (errors, a bad setting too, are raised on `next`)."""
        opts = self.decoding(utterances[0])
        if any(self.decoding(u) != opts for u in utterances[1:]):
            raise ConfigError("utterances decoded in one loop must share their decoding settings (seeds apart)")
        yield from self.runtime.stream_tokens([u.ids for u in utterances], [u.seed for u in utterances], opts)

    def code_stream(self, cfg: StreamConfig | None = None) -> CodeStream:
        """A stream that decodes one utterance's audio as its tokens arrive, in the chunks of `cfg`'s schedule
        (small first, growing; `runtimes.token_stream.CodeStream`)."""
        return self.runtime.code_stream(_chunks(cfg or StreamConfig()))

    def warmup(self, batch_sizes: Sequence[int] = (1,), stream: StreamConfig | None = None,
               decodings: Sequence[Decoding] = (_DEFAULT,)) -> None:
        """Build every graph of the given decoding settings, batch sizes and the smallest id bucket (one
        step of each loop: no utterance needs to end), and the codec's for the smallest frame bucket."""
        tok = self.spec.tokens
        ids = [tok.src_pad + 1] * 2
        for opts in decodings:
            for b in batch_sizes:
                self.runtime.generate([ids] * b, list(range(b)), opts, warmup=True)
        for b in batch_sizes:
            self.runtime.vocode([np.zeros((tok.codebooks, 1), dtype=np.int64)] * b)


def _audible(pieces: Iterator[tuple[np.ndarray, bool]]) -> Iterator[tuple[np.ndarray, bool]]:
    """The pieces with audio in them, and the last piece (which may be empty)."""
    return ((p, last) for p, last in pieces if last or p.size)


def _chunks(cfg: StreamConfig) -> list[int]:
    """Frames of the stream's chunks: the schedule's first size, growing to its largest."""
    sizes, n = [], max(1, cfg.first_frames)
    while n < cfg.max_frames and cfg.growth > 1:
        sizes.append(n)
        n *= cfg.growth
    return [*sizes, max(1, cfg.max_frames)]
