"""The runtime of token families (`FamilySpec.tokens`): a token model's decoding loops and its codec, on
the CPU or a GPU eagerly, compiled (torch.compile, one graph per bucket and loop graph), or on XLA.

Shapes are bucketed so graphs are reused: rows are padded to a batch bucket (copies of the first row,
dropped afterwards), source ids to an id bucket, and the target cache has the decoding bound's slots, so
a graph is built once per (graph, rows, id bucket, bound) and never again. ONNX Runtime and TensorRT do
not run token models (their loops would need the cache as graph inputs and outputs every step).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from ..config import Decoding
from ..engine.buckets import BucketConfig, bucket_size
from ..errors import ConfigError, DecodeLimitError
from .token_decoding import Batch, DecodeStats, TokenDecoder, scoped
from .token_stream import CodeStream
from .torch_ops import TorchOps, strict_fp32

_LOG = logging.getLogger(__name__)

MODES = ("eager", "compile", "xla")
EAGER_GRAPHS = ("start", "count")
"""Graphs torch.compile is not worth it for (making the loop state, adding two counters)."""
BATCH_EDGES = (1, 2, 4, 8, 16, 32, 64)
"""Row buckets of a decoding batch (beams included)."""


class GraphRunner:
    """Runs the decoding loops' graphs as a runtime mode does: eagerly, compiled once per graph and shape
    (torch.compile), or traced and cut with one `torch_xla.sync()` per graph (XLA)."""

    def __init__(self, mode: str, xla: Any = None) -> None:
        self.mode = mode
        self._xla = xla
        self._compiled: dict[str, Callable[..., Any]] = {}
        self.signatures: set[tuple] = set()
        """Every (graph, shapes) run so far: on compile and XLA, one built graph each."""

    def __call__(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        sig = (name, *(tuple(a.shape) if isinstance(a, torch.Tensor) else a for a in args))
        if sig not in self.signatures:
            _LOG.debug("token runtime %s: new graph %s", self.mode, sig)
            self.signatures.add(sig)
            if self.mode == "compile":
                _allow_graphs(len(self.signatures) + 8)
        if self.mode == "compile" and name not in EAGER_GRAPHS:
            if name not in self._compiled:
                self._compiled[name] = torch.compile(fn, dynamic=False)
            fn = self._compiled[name]
        out = fn(*args)
        if self._xla is not None:
            self._xla.sync()
        return out


def _allow_graphs(n: int) -> None:
    """Raise dynamo's per-function graph limit to `n` (past it, dynamo would silently run a new bucket
    eagerly): every bucket of every loop graph is meant to be compiled."""
    cfg = torch._dynamo.config
    for name in ("recompile_limit", "cache_size_limit", "accumulated_recompile_limit", "accumulated_cache_size_limit"):
        if hasattr(cfg, name) and getattr(cfg, name) < n:
            setattr(cfg, name, n)


class TokenRuntime:
    """Runs a `models.tokens.voice.TokenVoiceModel`: `generate` tokens, `vocode` codes."""

    static_shapes = True

    def __init__(self, model: Any, *, device: str | torch.device | None = None, mode: str = "eager",
                 sync_every: int = 8, buckets: BucketConfig | None = None) -> None:
        if mode not in MODES:
            raise ConfigError(f"token models run on {', '.join(MODES)}, not {mode!r}")
        self.name = mode
        self._xla = None
        if mode == "xla":
            from .xla import _import_xla

            self._xla = _import_xla()
            device = device if device not in (None, "xla") else self._xla.device()
        elif device is None:
            device = "cpu"
        self.torch_device = torch.device(device)
        self.model = model.to(self.torch_device).eval()
        self.spec = model.spec
        self.ops = TorchOps(self.torch_device)
        self.buckets = buckets or BucketConfig()
        self._run = GraphRunner(mode, self._xla)
        self.decoder = TokenDecoder(model.transformer, run=self._run, sync_every=sync_every,
                                    max_tokens=self.spec.tokens.max_tokens)

    @property
    def device(self) -> str:
        """Where the model runs ("cpu", "cuda:0", "xla:0", ...)."""
        return str(self.torch_device)

    @property
    def graphs_compiled(self) -> int:
        """Distinct graph shapes run so far (each one compiled once on compile and XLA)."""
        return len(self._run.signatures)

    # ---- tokens ----------------------------------------------------------------------------------------

    def rows_for(self, b: int) -> int:
        """The row bucket a batch of `b` rows runs at."""
        return bucket_size(b, BATCH_EDGES)

    def batch(self, src: Sequence[Sequence[int]], seeds: Sequence[int]) -> Batch:
        """Sources and seeds as one bucket on the device: rows padded to the row bucket (copies of the first
        row), ids to the id bucket."""
        tok = self.spec.tokens
        b = len(src)
        width = bucket_size(max(len(s) for s in src), self.buckets.id_edges)
        rows = self.rows_for(b)  # beam search keeps `beams` cache rows per row
        ids = np.full((rows, width), tok.src_pad, dtype=np.int64)
        lengths = np.zeros(rows, dtype=np.int64)
        seed_arr = np.zeros(rows, dtype=np.int64)
        for r in range(rows):
            s = src[r] if r < b else src[0]  # padding rows copy the first row
            ids[r, :len(s)] = s
            lengths[r] = len(s)
            seed_arr[r] = seeds[r] if r < b else seeds[0]
        dev = self.torch_device
        return Batch(torch.from_numpy(ids).to(dev), torch.from_numpy(lengths).to(dev),
                     torch.from_numpy(seed_arr).to(dev))

    def generate(self, src: Sequence[Sequence[int]], seeds: Sequence[int], opts: Decoding,
                 stats: DecodeStats | None = None, warmup: bool = False) -> list[np.ndarray]:
        """Tokens of each source (EOS last; see `TokenDecoder.generate`), in order (`warmup`: build the
        method's graphs for this shape and return nothing)."""
        batch = self.batch(src, seeds)
        with strict_fp32():
            out = self.decoder.generate(batch, opts, stats, warmup=warmup)
        return out[:len(src)]

    def stream_tokens(self, src: Sequence[Sequence[int]], seeds: Sequence[int], opts: Decoding,
                      stats: DecodeStats | None = None) -> Iterator[list[np.ndarray]]:
        """Each source's new tokens after every host read of the decoding loop (see `TokenDecoder.stream`:
        the same graphs and tokens as `generate`; beam search yields once, at its end). A row that hits the
        bound: its tokens are yielded, then `DecodeLimitError` (its `tokens`: one array per source)."""
        b = len(src)
        loop = scoped(self.decoder.stream(self.batch(src, seeds), opts, stats), strict_fp32)
        try:
            for new in loop:
                yield new[:b]
        except DecodeLimitError as err:
            err.tokens = list(getattr(err, "tokens", []))[:b]  # type: ignore[attr-defined]
            raise

    # ---- audio -----------------------------------------------------------------------------------------

    def vocode(self, codes: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Codes [K, T] of each utterance -> its audio (T * hop samples), decoded as one padded batch."""
        hop = self.spec.hop
        frames = [c.shape[1] for c in codes]
        width = bucket_size(max(max(frames), 1), self.buckets.frame_edges)
        rows = self.rows_for(len(codes))
        batch = np.zeros((rows, self.spec.tokens.codebooks, width), dtype=np.int64)
        lengths = np.full(rows, max(frames[0], 1), dtype=np.int64)
        for r, c in enumerate(codes):
            batch[r, :, :c.shape[1]] = c
            lengths[r] = max(c.shape[1], 1)
        with torch.no_grad():
            audio = self._run("vocode", self.model.codec.decode, torch.from_numpy(batch).to(self.torch_device),
                              torch.from_numpy(lengths).to(self.torch_device))
        host = audio.float().cpu().numpy()
        return [host[r, :f * hop].copy() for r, f in enumerate(frames)]

    def code_stream(self, chunks: Sequence[int]) -> CodeStream:
        """A stream that decodes one utterance's audio as its tokens (or codes) arrive, `chunks` frames at a
        time (the last size repeated), the codec's state carried (`runtimes.token_stream`)."""
        return CodeStream(self.spec.tokens, self.model.codec, self.torch_device, chunks)

    def vocode_stream(self, codes: np.ndarray, chunks: Sequence[int]) -> Iterator[np.ndarray]:
        """One utterance's codes [K, T] decoded chunk by chunk (`chunks` frames each, the last repeated), the
        codec's state carried: the pieces concatenate to `vocode`'s audio."""
        for piece, _ in self.code_stream(chunks).feed_codes(codes, last=True):
            yield piece
