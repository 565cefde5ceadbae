"""torch.compile (inductor) execution of a model: one graph per bucket, all built by `warmup()`.

The model is wrapped from outside, stage by stage:

- `encode` is compiled per (batch, id bucket);
- `frames` is compiled per (batch, frame bucket), with the id axis of its inputs marked dynamic:
  only the path matrix [b, t_y, t_x] and its `bmm` see that axis (everything after length regulation
  runs over the frames), so one graph serves every id bucket instead of one per (id x frame) pair;
- `vocode` is compiled per (batch, frame bucket) and per streaming window size (always masked);
- `decode` (autoregressive families) is compiled per (batch, id bucket): every block of steps reuses it.

`warmup(buckets, batch_sizes, window_sizes)` runs every one of those shapes once, so no request ever
compiles; a batch of a size that was not warmed up is padded to the next warmed-up size. Inductor's
FX-graph and AOTAutograd caches are kept in a directory keyed by the model's weights and config, the
torch version, the device and the compile options (`~/.cache/sonorant/compile/<key>` by default), so
a second process loads the compiled code instead of building it, and never loads another model's.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, SonorantError
from ..models.base import Encoded
from .base import StageRunner
from .cache import CacheEntry, default_cache_root, versions, weights_digest
from .precision import decoder_scope
from .stage_modules import stage_calls
from .torch_ops import TorchOps, strict_fp32

_LOG = logging.getLogger(__name__)
_FORMAT = "sonorant-compile-1"
_SIGNATURES_IN_PROCESS: set[tuple] = set()
"""Every (runtime, stage, shape) compiled in this process: dynamo's per-code-object cache limit must
exceed it, because all compiled modules share `nn.Module`'s call code object."""


def _signature(stage: str, tensors: Sequence[torch.Tensor | int | None], dynamic: Mapping[int, int]) -> tuple:
    """What decides a graph: shapes (dynamic dims as -1), dtypes, integer arguments, and which optional
    inputs are None."""
    sig: list[object] = []
    for i, t in enumerate(tensors):
        if t is None or isinstance(t, int):
            sig.append(t)
            continue
        shape = list(t.shape)
        if i in dynamic:
            shape[dynamic[i]] = -1
        sig.append((tuple(shape), str(t.dtype)))
    return (stage, tuple(sig))


def _copied(out: object) -> object:
    """A stage's output (a tensor or a tuple of tensors / None) with every tensor cloned."""
    if isinstance(out, tuple):
        return tuple(None if t is None else t.clone() for t in out)
    return out.clone()


def _unaliased(args: tuple) -> tuple:
    """`args` with any tensor that shares storage with an earlier one copied.

    Dynamo guards on aliasing between inputs (`a is b`, views of one buffer), so inputs must alias
    the same way on every call; here they never do. (Encode's outputs m_p / logs_p are two halves of
    one buffer, but a padded batch gets fresh tensors.)
    """
    seen: set[int] = set()
    out = []
    for t in args:
        if isinstance(t, torch.Tensor):
            ptr = t.untyped_storage().data_ptr()
            if ptr in seen:
                t = t.clone()
                ptr = t.untyped_storage().data_ptr()
            seen.add(ptr)
        out.append(t)
    return tuple(out)


@contextlib.contextmanager
def _inductor_cache_dir(directory: Path) -> Iterator[None]:
    """Point inductor's on-disk caches at `directory` while compiling.

    Inductor reads its cache location from TORCHINDUCTOR_CACHE_DIR at each compile (no API takes a
    path), so the explicit `cache_dir` option is applied by setting it around calls that compile,
    and restored afterwards.
    """
    try:
        from torch._inductor.utils import clear_caches
    except ImportError:  # older torch: nothing memoizes the location
        def clear_caches() -> None:
            return None

    saved = {k: os.environ.get(k) for k in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR")}
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(directory)
    os.environ["TRITON_CACHE_DIR"] = str(directory / "triton")
    clear_caches()
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        clear_caches()


def _progress_bar(total: int) -> Any:
    """A progress bar on standard error over `total` graphs (none where tqdm is missing or not a terminal)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="compiling graphs", unit="graph", disable=None, leave=False)


class CompileRuntime(StageRunner):
    """Runs the stages as torch.compile'd (inductor) graphs, one per bucket shape; see the module doc."""

    name = "compile"
    static_shapes = True

    def __init__(
        self,
        model: nn.Module,
        *,
        device: str | torch.device = "cpu",
        cache_dir: str | Path | None = None,
        mode: str | None = None,
        options: Mapping[str, object] | None = None,
        fullgraph: bool = True,
        precision: str = "fp32",
    ) -> None:
        """`cache_dir` is the root of the keyed compile caches (default `~/.cache/sonorant/compile`);
        `mode` is a torch.compile mode ("default", "reduce-overhead", "max-autotune", ...) and `options`
        are inductor config patches applied on top of it (e.g. {"freezing": True}); `precision` is the
        vocoder's ("fp32", "bf16", "fp16"; see `sonorant.runtimes.precision`)."""
        from torch._inductor import list_mode_options

        from .precision import decoder_dtype

        self.torch_device = torch.device(device)
        if self.torch_device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError("the compile runtime was asked for device 'cuda' but torch sees no CUDA device")
        self.device = str(self.torch_device)
        self.ops = TorchOps(self.torch_device)
        self.spec = model.spec
        self.model = model.to(self.torch_device).eval()
        self.precision = precision
        self.dtype = decoder_dtype(precision, self.torch_device)
        try:
            patches = dict(list_mode_options(mode or "default", dynamic=False))
        except RuntimeError as exc:
            raise ConfigError(f"unknown torch.compile mode {mode!r}: {exc}") from None
        patches.update(options or {})
        patches.setdefault("fx_graph_cache", True)
        self.inductor_options = patches
        # CUDA graphs hand out outputs in a pool the next replay overwrites: copy them out.
        self._copy_outputs = bool(patches.get("triton.cudagraphs"))
        fields = {
            "format": _FORMAT, "weights": weights_digest(model), "versions": versions(),
            "device": self.torch_device.type, "mode": mode or "default", "options": patches, "fullgraph": fullgraph,
            "precision": precision,
        }
        root = Path(cache_dir) if cache_dir is not None else default_cache_root() / "compile"
        self.cache = CacheEntry(root, fields)
        self.cache_dir = self.cache.open()
        self.graphs: Counter[str] = Counter()
        """Graphs inductor built (or loaded from the cache) per stage: one per shape signature."""
        self.compile_seconds = 0.0
        """Wall time spent in calls that compiled."""
        self._seen: set[tuple] = set()
        self._progress: Any = None  # a progress bar over the graphs while `warmup` builds them
        self._warm_batches: tuple[int, ...] = ()
        self._warmed = False
        self.calls = stage_calls(self.model, self.dtype)
        self._compiled = {
            name: torch.compile(self.calls[name], backend=self._backend(name), fullgraph=fullgraph, dynamic=False)
            for name in ("encode", "decode", "frames", "vocode") if name in self.calls
        }

    # --- compilation ---------------------------------------------------------------------------------

    def _backend(self, stage: str):  # noqa: ANN202
        from torch._inductor.compile_fx import compile_fx

        def backend(gm: torch.fx.GraphModule, example_inputs: list[torch.Tensor]):  # noqa: ANN202
            compiled = compile_fx(gm, example_inputs, config_patches=dict(self.inductor_options))
            self.graphs[stage] += 1
            return compiled

        return backend

    def _call(self, stage: str, args: tuple, dynamic: Mapping[int, int] | None = None) -> object:
        """Run a compiled stage; a shape signature seen for the first time compiles under the cache dir."""
        dynamic = dynamic or {}
        args = _unaliased(args)
        for i, dim in dynamic.items():
            torch._dynamo.mark_dynamic(args[i], dim)
        sig = _signature(stage, args, dynamic)
        # The same precision scope at compile time and at every call: encode and latent in strict fp32,
        # the decoder as its precision says (see `sonorant.runtimes.precision`).
        scope = decoder_scope(self.precision) if stage.startswith("vocode") else strict_fp32()
        # allow_rnn: dynamo traces nn.LSTM (Tacotron2's encoder) only when asked; the other families have none.
        with torch.no_grad(), scope, torch._dynamo.config.patch(allow_rnn=True):
            if sig in self._seen:
                out = self._compiled[stage](*args)
                return _copied(out) if self._copy_outputs else out
            if self._warmed:
                _LOG.warning("compile runtime: building a graph for %s %s after warmup (this request waits for it); "
                             "warm up with these sizes to avoid it", stage, sig[1])
            elif not self._seen and self._progress is None:
                _LOG.warning("compile runtime: building the graphs for the shapes this run needs (the first time "
                             "takes minutes; later runs load them from %s)", self.cache_dir)
            self._raise_dynamo_limits(sig)
            start = time.perf_counter()
            try:
                with _inductor_cache_dir(self.cache_dir):
                    out = self._compiled[stage](*args)
            except Exception as exc:  # dynamo wraps inductor's failures (a corrupt artifact among them)
                out = self._rebuild(stage, args, exc)
            self.compile_seconds += time.perf_counter() - start
            self._seen.add(sig)
            if self._progress is not None:
                self._progress.update(1)
            return _copied(out) if self._copy_outputs else out

    def _rebuild(self, stage: str, args: tuple, exc: Exception) -> object:
        """Retry a failed compile once in an emptied cache entry: a corrupt cached artifact (an
        unloadable kernel library, say) then costs a rebuild; a failure without the cache is reported."""
        _LOG.warning("compile runtime: building %s failed with the cache entry %s (%s: %s); emptying it and "
                     "building again", stage, self.cache_dir, exc.__class__.__name__, str(exc).splitlines()[0][:200])
        self.cache.wipe()
        self.cache_dir = self.cache.open()
        try:
            with _inductor_cache_dir(self.cache_dir):
                return self._compiled[stage](*args)
        except Exception as again:
            raise SonorantError(f"torch.compile could not build the {stage} stage ({again.__class__.__name__}: "
                                f"{str(again).splitlines()[0][:300]}); the eager runtime needs no compiler") from again

    def _raise_dynamo_limits(self, sig: tuple) -> None:
        _SIGNATURES_IN_PROCESS.add((id(self), *sig))
        needed = len(_SIGNATURES_IN_PROCESS) + 8
        cfg = torch._dynamo.config
        limit = "recompile_limit" if hasattr(cfg, "recompile_limit") else "cache_size_limit"
        if getattr(cfg, limit) < needed:
            setattr(cfg, limit, needed)
        acc = "accumulated_recompile_limit"
        if not hasattr(cfg, acc):  # older torch
            acc = "accumulated_cache_size_limit"
        if getattr(cfg, acc, needed) < needed:
            setattr(cfg, acc, needed)

    @property
    def graphs_compiled(self) -> int:
        """Total graphs built so far, over all stages."""
        return sum(self.graphs.values())

    # --- the Runtime protocol -----------------------------------------------------------------------

    def _batch_for(self, b: int) -> int:
        """The warmed-up batch size a batch of `b` runs at (itself if none fits)."""
        fits = [s for s in self._warm_batches if s >= b]
        return min(fits) if fits else b

    def _prep(self, t: torch.Tensor, rows: int) -> torch.Tensor:
        """`t` on the device, contiguous, as an ordinary tensor, with copies of its first row added up to
        `rows` rows (padding rows then compute something valid and finite, and are dropped).

        Guards compare strides and dispatch keys, so inputs must look alike whatever produced them
        (a padded copy, a slice of another stage's output, an inference-mode tensor): everything is
        made contiguous, run under no_grad, and inference tensors are copied out.
        """
        if t.shape[0] != rows:
            t = torch.cat([t, t[:1].expand(rows - t.shape[0], *t.shape[1:])])
        t = t.to(self.torch_device).contiguous()
        return t.clone() if t.is_inference() else t

    def run_stage(self, graph: str, feeds: Mapping[str, Any]) -> list[Any]:
        call = self.calls[graph]
        b = feeds[call.names[0]].shape[0]
        rows = self._batch_for(b)
        args = tuple(self._prep(feeds[n], rows) for n in call.names)
        # The id axis of the frames stage's inputs is dynamic: one graph per frame bucket.
        regulated = graph == "frames" and "durations" in call.names
        dynamic = {call.names.index("tokens"): 2, call.names.index("durations"): 1} if regulated else {}
        out = self._call(graph, args, dynamic)
        return [t[:b] for t in out] if isinstance(out, tuple) else [out[:b]]

    def vocode(self, z: torch.Tensor, frames: np.ndarray, g: torch.Tensor | None) -> torch.Tensor:
        # Always masked (even when nothing is padded): one graph per shape, and the mask multiplies
        # fuse into the neighbouring kernels.
        feeds = {"z": z, "lengths": self.ops.asarray(np.asarray(frames, dtype=np.int64)), "g": g}
        return self.run_stage("vocode", feeds)[0]  # [b, t * hop] float32 on the device

    # --- ahead-of-time compilation ------------------------------------------------------------------

    def warmup(self, buckets: object, batch_sizes: Sequence[int], window_sizes: Sequence[int]) -> None:
        """Build every graph for `batch_sizes` x the bucket edges, and the decoder at each streaming
        window size: afterwards no request with those sizes compiles. Later batches run at the
        smallest warmed-up size that holds them (padded with empty rows); streams at the smallest."""
        id_edges = tuple(getattr(buckets, "id_edges"))
        frame_edges = tuple(getattr(buckets, "frame_edges"))
        sizes = tuple(sorted({int(s) for s in batch_sizes if int(s) > 0} | set(self._warm_batches)))
        if not sizes:
            raise ConfigError("warmup needs at least one positive batch size")
        start, before = time.perf_counter(), self.graphs_compiled
        self._warm_batches = sizes
        c = self.spec.channels
        per_id_edge = 2 if self.spec.decoder is not None else 1  # encode (and one decode block)
        graphs = len(sizes) * (per_id_edge * len(id_edges) + 2 * len(frame_edges)) + len(set(window_sizes)) + 1
        _LOG.warning("compile runtime: building %d graphs (the first time takes minutes; later processes load them "
                     "from %s)", graphs, self.cache_dir)
        self._progress = _progress_bar(graphs)
        try:
            for b in sizes:
                for t_x in id_edges:
                    self._dummy_encode(b, t_x)
                enc = self._dummy_encode(b, id_edges[0])
                for t_y in frame_edges:
                    z = self.frames(enc, self._knobs(b), np.zeros(b, np.int64), t_y)
                    self.vocode(z, np.full(b, t_y, np.int64), enc.g)
            enc = self._dummy_encode(1, id_edges[0])
            for size in sorted({int(s) for s in window_sizes}):
                self.vocode(torch.zeros(1, c, size, device=self.torch_device), np.array([size], np.int64), enc.g)
        finally:
            if self._progress is not None:
                self._progress.close()
            self._progress = None
        self._warmed = True
        _LOG.info("compile runtime: %d graphs ready in %.1f s (%d built or loaded now; cache %s)",
                  len(self._seen), time.perf_counter() - start, self.graphs_compiled - before, self.cache_dir)

    def _knobs(self, b: int) -> np.ndarray:
        return np.tile(np.asarray(self.spec.knob_defaults(), dtype=np.float32), (b, 1))  # [b, K]

    def _dummy_encode(self, b: int, t_x: int) -> Encoded:
        ids = np.zeros((b, t_x), dtype=np.int64)
        ids[:, 0] = 1
        sid = np.zeros(b, dtype=np.int64) if self.spec.multi_speaker else None
        return self.encode_blocks(ids, np.full(b, t_x, dtype=np.int64), self._knobs(b), np.zeros(b, np.int64), sid,
                                  max_blocks=1)
