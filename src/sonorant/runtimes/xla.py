"""PyTorch/XLA execution of a model: one compiled graph per stage and bucket shape.

Each stage is traced lazily and cut with one `torch_xla.sync()`, so XLA compiles one graph per input
shape and reuses it from its in-memory cache afterwards:

- encode: one graph per (rows, id bucket); an autoregressive family's decode stage too, run block after
  block (one sync and one read of the live flags per block);
- frames: one graph per (rows, frame bucket). Length regulation (token -> frame) is done on the
  CPU with an index gather, which selects exactly what the family's path-matrix `bmm` selects; on the
  device it would need a graph per (id bucket, frame bucket) pair (30 per batch size with the default
  buckets), while on the CPU it costs a few milliseconds at most and no graph at all. The rest of the
  stage (the family's `frames_post`: noise, flows or decoder, mask) runs on the device;
- vocode: one graph per (rows, frame bucket) and per streaming window size; the vocoder always runs
  with its padding masks, so a full and a padded batch share a graph.

Stage outputs come back to the CPU between stages (the engine reads frame counts there anyway and
slices latent windows for streaming; on a host-attached device this is a plain copy). Batches smaller
than a warmed batch size are padded with copies of their last row up to the next warmed size, so a
handful of batch sizes covers every batch. `warmup` compiles every graph for the bucket edges ahead of
time; a shape outside them (an input longer than the last bucket edge) compiles on first use and is
logged.

Which PJRT device runs the graphs is the caller's choice: set `PJRT_DEVICE` (CPU, TPU, CUDA, ...)
before the process starts, or pass `device`. XLA:CPU cannot reload compiled executables, so the
persistent compile cache (`cache_dir`) is only used on other devices.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..engine.buckets import BucketConfig
from ..errors import ConfigError
from ..models.base import Encoded
from .decoding import DecodeCounter, decode_all, decode_blocks
from .precision import decoder_dtype
from .stage_modules import stage_calls
from .torch_ops import TorchOps, torch_normal

_LOG = logging.getLogger(__name__)
_CACHE_PATH: str | None = None
"""The persistent compile cache this process initialized (XLA allows one, set before any compile)."""


def _import_xla():  # noqa: ANN202 - returns the torch_xla module
    try:
        import torch_xla
        import torch_xla.runtime  # noqa: F401 - used as torch_xla.runtime
    except ImportError as exc:  # missing, or built for another torch version
        raise ConfigError(
            f"the xla runtime needs torch-xla built for the installed torch ({torch.__version__}), e.g. "
            "pip install torch==2.9.0 torch-xla==2.9.0 in its own environment, with the PJRT device chosen "
            f"by the PJRT_DEVICE environment variable (e.g. PJRT_DEVICE=CPU); import failed: {exc}"
        ) from None
    return torch_xla


def regulate(durations: torch.Tensor, tokens: torch.Tensor, t_y: int) -> torch.Tensor:
    """Length regulation on the CPU: per-token features [b, c, t_x] spread over t_y frames.

    Frame f takes token j with start_j <= f < end_j (end = cumulative integral durations), found by
    counting the ends <= f; frames past the utterance get zeros. This is the selection the family's
    path matrix makes (`models.common.regulate`), without the [b, t_y, t_x] product.
    """
    end = torch.cumsum(durations.to(torch.float32), dim=1)  # [b, t_x], exact integers
    frame = torch.arange(t_y, dtype=end.dtype).expand(end.shape[0], t_y).contiguous()  # [b, t_y]
    idx = torch.searchsorted(end, frame, right=True)  # [b, t_y]: token index, t_x past the end
    valid = (idx < end.shape[1]).unsqueeze(1).to(tokens.dtype)  # [b, 1, t_y]
    idx = idx.clamp_max(end.shape[1] - 1).unsqueeze(1).expand(-1, tokens.shape[1], -1)  # [b, c, t_y]
    return torch.gather(tokens, 2, idx) * valid


def _pad_rows(t: torch.Tensor, rows: int) -> torch.Tensor:
    """t with copies of its last row appended up to `rows` rows (a padded row computes like a real one)."""
    extra = rows - t.shape[0]
    return t if extra <= 0 else torch.cat([t, t[-1:].expand(extra, *t.shape[1:])])


class XlaRuntime:
    """Runs the model's stages as XLA graphs, one per bucket shape, on a PJRT device."""

    name = "xla"
    static_shapes = True

    def __init__(
        self,
        model: nn.Module,
        *,
        device: str | torch.device | None = None,
        cache_dir: str | Path | None = None,
        precision: str = "fp32",
    ) -> None:
        """`device`: an XLA device such as "xla:0" (default: torch_xla's default device for the PJRT
        device the process runs on). `cache_dir`: persistent compile cache directory (TPU/GPU only;
        it must be given before the process compiles anything with XLA; entries are keyed by the
        graph itself, so a cache is never reused for another model shape or torch-xla version).
        `precision` ("fp32", "bf16", "fp16") is the decoder's dtype; the stages before it stay fp32
        (see `sonorant.runtimes.precision`).

        The model is copied to the device; `model` itself stays where it is.
        """
        xla = _import_xla()
        self._xla = xla
        if cache_dir is not None:
            self._init_cache(Path(cache_dir))
        try:
            self.torch_device = torch.device(device) if device is not None else xla.device()
        except RuntimeError as exc:
            raise ConfigError(f"no usable XLA device {device!r} (is PJRT_DEVICE set?): {exc}") from None
        if self.torch_device.type != "xla":
            raise ConfigError(f"the xla runtime needs an XLA device, got {str(self.torch_device)!r}")
        self.device = str(self.torch_device)
        self.ops = TorchOps("cpu")  # every stage hands its results back on the CPU
        self.spec = model.spec
        # Noise in float64 where XLA computes it (CPU, CUDA); TPUs have no float64.
        self.noise_dtype = torch.float32 if xla.runtime.device_type() == "TPU" else torch.float64
        self.model = copy.deepcopy(model).eval().to(self.torch_device)
        self.precision = precision
        self.dtype = decoder_dtype(precision, self.torch_device)
        self.calls = stage_calls(self.model, self.dtype)
        self.post = self.model.stages()["frames_post"]
        self._device_ops = TorchOps(self.torch_device)
        self._device_ops.noise_dtype = self.noise_dtype
        self.decode_counter: DecodeCounter | None = None
        """When set, the decode loop counts its blocks and host reads into it."""
        self.batch_sizes: tuple[int, ...] = ()
        """Batch sizes compiled by `warmup`; smaller batches are padded up to the next of these."""
        self._shapes: set[tuple[str, int, int]] = set()
        self._warm = False

    def _init_cache(self, root: Path) -> None:
        global _CACHE_PATH
        xr = self._xla.runtime
        kind = xr.device_type()
        if kind == "CPU":
            _LOG.warning("XLA:CPU cannot reload compiled executables; the compile cache in %s is not used", root)
            return
        path = str(root / f"torch_xla-{self._xla.__version__}-{kind}")
        if _CACHE_PATH == path:
            return
        if _CACHE_PATH is not None or self._xla._XLAC._xla_computation_cache_is_initialized():
            raise ConfigError(
                "the XLA compile cache can only be chosen once per process, before anything is compiled "
                f"(this process already uses {_CACHE_PATH or 'no cache'})"
            )
        xr.initialize_cache(path, readonly=False)
        _CACHE_PATH = path

    def _rows(self, b: int) -> int:
        """Rows a batch of b runs with: the smallest warmed batch size >= b, else b."""
        return next((n for n in self.batch_sizes if n >= b), b)

    def _note(self, stage: str, rows: int, size: int) -> None:
        key = (stage, rows, size)
        if key not in self._shapes:
            self._shapes.add(key)
            if self._warm:
                _LOG.warning("xla: compiling %s for %d rows x %d, a shape warmup() did not build", stage, rows, size)

    def _to(self, t: torch.Tensor, rows: int, dtype: torch.dtype | None = None) -> torch.Tensor:
        return _pad_rows(t.detach().cpu(), rows).to(self.torch_device, dtype)

    def _up(self, a: np.ndarray, rows: int) -> torch.Tensor:
        """A host array padded to `rows` rows, on the device."""
        return self._to(torch.from_numpy(np.ascontiguousarray(a)), rows)

    def _sync(self) -> None:
        self._xla.sync()

    def _noise(self, seeds: np.ndarray, rows: int, noise: object, width: int, lengths: torch.Tensor) -> torch.Tensor | None:
        """A stage's noise, computed inside its graph (None if the stage takes none)."""
        if noise is None:
            return None
        return torch_normal(self._up(seeds, rows), noise.stream, noise.channels, width, lengths, self.noise_dtype)

    def encode(self, ids: np.ndarray, lengths: np.ndarray, knobs: np.ndarray, seeds: np.ndarray,
               sid: np.ndarray | None, max_blocks: int | None = None) -> Encoded:
        """Stage 1 with its noise on the device (one graph per rows x id bucket); results come back on
        the CPU. An autoregressive family decodes here too (at most `max_blocks` blocks for warm-ups)."""
        b = ids.shape[0]
        out, feeds = self._encode_graph(ids, lengths, knobs, seeds, sid)
        spec = self.spec
        if spec.decoder is not None:
            with torch.no_grad():
                decoded, counts = decode_all(spec, self._device_ops, self._run_decode(out[0]), out[0],
                                             feeds["lengths"], feeds["knobs"], feeds["seeds"], self.decode_counter,
                                             max_blocks)
            g = out[1].cpu()[:b] if spec.cond_channels else None
            return Encoded(decoded.cpu()[:b], None, counts.cpu()[:b], g)
        out = [t.cpu()[:b] for t in out]
        return Encoded(out[0], out[1], out[2], out[3] if spec.cond_channels else None)

    def decode_stream(self, ids: np.ndarray, lengths: np.ndarray, knobs: np.ndarray, seeds: np.ndarray,
                      sid: np.ndarray | None) -> Iterator[tuple[Encoded, bool]]:
        """An autoregressive family's encode block by block (`runtimes.base.StageRunner.decode_stream`);
        the frames decoded so far come back on the CPU after each block."""
        b = ids.shape[0]
        out, feeds = self._encode_graph(ids, lengths, knobs, seeds, sid)
        g = out[1].cpu()[:b] if self.spec.cond_channels else None
        with torch.no_grad():
            for blocks, counts, done in decode_blocks(self.spec, self._device_ops, self._run_decode(out[0]), out[0],
                                                      feeds["lengths"], feeds["knobs"], feeds["seeds"],
                                                      self.decode_counter):
                decoded = torch.cat([x.cpu() for x in blocks], 2)[:b]  # [b, cd, steps so far]
                yield Encoded(decoded, None, counts.cpu()[:b], g), done

    def _encode_graph(self, ids: np.ndarray, lengths: np.ndarray, knobs: np.ndarray, seeds: np.ndarray,
                      sid: np.ndarray | None) -> tuple[list[torch.Tensor], dict[str, torch.Tensor]]:
        """The encode graph's outputs on the device (rows padded to a warmed batch size) and its inputs."""
        b, rows = ids.shape[0], self._rows(ids.shape[0])
        self._note("encode", rows, ids.shape[1])
        with torch.no_grad():
            lengths_d = self._up(lengths, rows)
            feeds = {"ids": self._up(ids, rows), "lengths": lengths_d, "knobs": self._up(knobs, rows),
                     "noise": self._noise(seeds, rows, self.spec.encode_noise, ids.shape[1], lengths_d),
                     "sid": self._up(sid if sid is not None else np.zeros(b, np.int64), rows),
                     "seeds": self._up(seeds, rows)}
            call = self.calls["encode"]
            out = call(*(feeds[n] for n in call.names))
            self._sync()
        return (list(out) if isinstance(out, tuple) else [out]), feeds

    def _run_decode(self, tokens: torch.Tensor):  # noqa: ANN202 - the decode loop's `run`
        """The decode graph as `decoding.decode_all` calls it: one graph per (rows, id bucket), cut by a sync
        per block; only the live flags come back to the host between blocks."""
        call = self.calls["decode"]
        self._note("decode", tokens.shape[0], tokens.shape[-1])

        def run(feeds: dict) -> list[torch.Tensor]:
            res = call(*(feeds[n] for n in call.names))
            self._sync()
            return list(res)

        return run

    def frames(self, enc: Encoded, knobs: np.ndarray, seeds: np.ndarray, width: int) -> torch.Tensor:
        """Stage 2: length regulation on the CPU, the rest on the device (one graph per rows x frame
        bucket). Returns the frames [b, C, width] on the CPU."""
        b = enc.frames.shape[0]
        rows = self._rows(b)
        self._note("frames", rows, width)
        if enc.durations is None:  # decoded frames (an autoregressive family): cut or padded to the bucket
            regulated = self.ops.pad_last(enc.tokens.cpu()[..., :width], width)  # [b, Cd, t_y]
        else:
            regulated = regulate(enc.durations.cpu(), enc.tokens.cpu(), width)  # [b, Ct, t_y]
        with torch.no_grad():
            frames = self._to(enc.frames, rows)
            mask = (torch.arange(width, device=self.torch_device).view(1, 1, -1) < frames.view(-1, 1, 1)).float()
            noise = self._noise(seeds, rows, self.spec.frames_noise, width, frames)
            g = self._to(enc.g, rows) if enc.g is not None else None
            z = self.post(self._to(regulated, rows), mask, self._up(knobs, rows), noise, g)  # [rows, C, t_y]
            self._sync()
        return z.cpu()[:b]

    def vocode(self, z: torch.Tensor, frames: np.ndarray, g: torch.Tensor | None) -> torch.Tensor:
        """Stage 3: the masked vocoder (one graph per rows x frames); audio [b, t * hop] on the CPU."""
        b, rows = z.shape[0], self._rows(z.shape[0])
        self._note("vocode", rows, z.shape[-1])
        with torch.no_grad():
            audio = self.calls["vocode"](self._to(z, rows), self._up(np.asarray(frames, dtype=np.int64), rows),
                                         *([self._to(g, rows)] if g is not None else []))  # [rows, t * hop]
            self._sync()
        return audio.cpu()[:b]

    def warmup(self, buckets: BucketConfig, batch_sizes: Sequence[int], window_sizes: Sequence[int]) -> None:
        """Compile every graph a request can need: encode per id edge, frames and vocode per frame edge,
        for each batch size, and the batch-1 decoder for each streaming window size. Batch sizes add
        to those of earlier warm-ups."""
        if not batch_sizes or any(n < 1 for n in batch_sizes):
            raise ConfigError(f"warmup needs positive batch sizes, got {tuple(batch_sizes)}")
        self.batch_sizes = tuple(sorted(set(self.batch_sizes) | set(batch_sizes)))
        spec = self.spec
        started = time.perf_counter()
        g = None
        for rows in self.batch_sizes:
            knobs = np.tile(np.asarray(spec.knob_defaults(), np.float32), (rows, 1))  # [rows, K]
            seeds = np.zeros(rows, np.int64)
            sid = np.zeros(rows, np.int64) if spec.multi_speaker else None
            for t_x in buckets.id_edges:
                enc = self.encode(np.zeros((rows, t_x), np.int64), np.full(rows, t_x, np.int64), knobs, seeds, sid,
                                  max_blocks=1)
                g = enc.g
            for t_y in buckets.frame_edges:
                frames = torch.full((rows,), t_y)
                if spec.decoder is not None:
                    enc = Encoded(torch.zeros(rows, spec.decoder.frame_channels, t_y), None, frames, g)
                else:
                    enc = Encoded(torch.zeros(rows, spec.token_channels, 1), torch.full((rows, 1), float(t_y)),
                                  frames, g)
                self.frames(enc, knobs, seeds, t_y)
                self.vocode(torch.zeros(rows, spec.channels, t_y), np.full(rows, t_y, np.int64), g)
        for size in window_sizes:  # streaming decodes one utterance at a time
            self.vocode(torch.zeros(1, spec.channels, size), np.array([size], np.int64),
                        None if g is None else g[:1])
        self._warm = True
        _LOG.info("xla: %d graphs ready for batch sizes %s (%.1f s)", len(self._shapes), self.batch_sizes,
                  time.perf_counter() - started)
