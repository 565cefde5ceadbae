"""TensorRT execution of a model: engines built from the ONNX stage graphs, one optimization
profile per shape bucket.

The stage graphs (encode, frames, vocode, and an autoregressive family's decode block) are exported with
dynamic axes (`onnx.export_stages`) and parsed by TensorRT. Each stage's engine carries one optimization
profile per bucket: for the id bucket (or frame bucket) edge e above the previous edge p, the profile spans
p+1..e with e as its optimum, so the engine's padded inputs (always exactly e) run the kernels tuned for
them; one more profile covers sizes past the last edge (the engine rounds those to multiples of it), and the
decoder has an exact profile per streaming window size. Engines, the ONNX they came from and a manifest live
in a directory keyed by the weights, the profiles, the precision, the GPU and the TensorRT / torch / onnx
versions (`~/.cache/sonorant/tensorrt/<key>`); the layer timing cache is shared per GPU and TensorRT
version. A plan file that fails to deserialize is rebuilt.

`precision="fp16"` or `"bf16"` lets TensorRT pick reduced-precision kernels for the decoder (`vocode`,
most of the work); `encode` and `frames` stay fp32 by default (`fp32_stages`), as in the other
runtimes (see `sonorant.runtimes.precision`): durations are rounded up to whole frames, so a rounding
flip would change an utterance's length, not just its samples.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, SonorantError
from ..models.base import FamilySpec
from .base import StageRunner, stage_inputs
from .cache import CacheEntry, atomic_write_bytes, default_cache_root, make_key, versions, weights_digest
from .torch_ops import TorchOps

if TYPE_CHECKING:
    from ..engine.buckets import BucketConfig

_LOG = logging.getLogger(__name__)
_FORMAT = "sonorant-tensorrt-1"
PRECISIONS = ("fp32", "fp16", "bf16")
"""Accepted values of the `precision` option."""

STAGES = ("encode", "decode", "frames", "vocode")
"""The engines built (the vocoder always runs with its padding masks; decode for autoregressive families)."""


def built_stages(spec: FamilySpec) -> tuple[str, ...]:
    """The engines a family with `spec` needs."""
    return tuple(s for s in STAGES if s != "decode" or spec.decoder is not None)


def input_axes(spec: FamilySpec, stage: str) -> dict[str, tuple[str | int, ...]]:
    """Each input's axes: "B" batch, "X" ids, "Y" frames; ints are fixed sizes from the spec."""
    k = len(spec.knobs)
    known: dict[str, tuple[str | int, ...]] = {
        "ids": ("B", "X"), "lengths": ("B",), "knobs": ("B", k), "sid": ("B",),
        "tokens": ("B", spec.token_channels, "X"), "durations": ("B", "X"), "mask": ("B", 1, "Y"),
        "g": ("B", spec.cond_channels, 1), "z": ("B", spec.channels, "Y"),
    }
    if spec.encode_noise and stage == "encode":
        known["noise"] = ("B", spec.encode_noise.channels, "X")
    if spec.frames_noise and stage == "frames":
        known["noise"] = ("B", spec.frames_noise.channels, "Y")
    dec = spec.decoder
    if dec is not None:
        known.update(id_mask=("B", "X"), state=("B", dec.state_channels), attn=("B", dec.attn_channels, "X"),
                     live=("B",), count=("B",))
        if stage == "decode" and dec.noise is not None:
            known["noise"] = ("B", dec.noise.channels, dec.block)
        if stage == "frames":
            known["tokens"] = ("B", dec.frame_channels, "Y")
    return {name: known[name] for name in stage_inputs(spec, stage)}


@dataclass(frozen=True)
class Profile:
    """One optimization profile of a stage: the min / opt / max shape of each of its inputs."""

    stage: str
    """Stage name: encode, frames or vocode."""
    label: str
    """What the profile is for, e.g. "ids 33-64" or "window 58"."""
    shapes: tuple[tuple[str, tuple[int, ...], tuple[int, ...], tuple[int, ...]], ...]
    """(input name, min shape, opt shape, max shape) for every input of the stage."""

    def covers(self, shapes: Mapping[str, Sequence[int]]) -> bool:
        """Whether every given input shape lies within this profile's min..max."""
        for name, lo, _, hi in self.shapes:
            if name in shapes:
                got = tuple(shapes[name])
                if len(got) != len(lo) or any(not a <= g <= b for a, g, b in zip(lo, got, hi)):
                    return False
        return True

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly form (for manifests and cache keys)."""
        shapes = [[n, list(a), list(o), list(b)] for n, a, o, b in self.shapes]
        return {"stage": self.stage, "label": self.label, "shapes": shapes}


def _ranges(edges: Sequence[int], overflow: int) -> list[tuple[str, int, int, int]]:
    """(label, min, opt, max) per bucket edge, plus one range past the last edge up to `overflow` x it."""
    out, lo = [], 1
    for e in sorted(set(int(e) for e in edges)):
        out.append((f"{lo}-{e}", lo, e, e))
        lo = e + 1
    top = max(edges)
    if overflow > 1:
        out.append((f"{top + 1}-{overflow * top}", top + 1, 2 * top, overflow * top))
    return out


def stage_profiles(
    spec: FamilySpec,
    buckets: BucketConfig,
    batch_sizes: Sequence[int],
    window_sizes: Sequence[int] = (),
    overflow: int = 4,
) -> dict[str, list[Profile]]:
    """The optimization profiles of each stage for these buckets, batch sizes and streaming windows.

    Batch spans 1..max(batch_sizes) with the largest as optimum; encode has a profile per id bucket,
    frames and vocode one per frame bucket (the frames stage's id axis spans every id bucket), vocode one
    per window size (batch 1, exact size), and each stage one for sizes past its last edge, up to
    `overflow` times it.
    """
    if not batch_sizes or min(batch_sizes) < 1:
        raise ConfigError("TensorRT profiles need at least one positive batch size")
    if not buckets.id_edges or not buckets.frame_edges:
        raise ConfigError("TensorRT profiles need id and frame bucket edges")
    max_b = max(int(b) for b in batch_sizes)
    all_x = (1, max(buckets.id_edges), max(overflow, 1) * max(buckets.id_edges))

    def profile(stage: str, label: str, dims: Mapping[str, tuple[int, int, int]]) -> Profile:
        shapes = []
        for name, axes in input_axes(spec, stage).items():
            lo, opt, hi = zip(*((dims[a] if isinstance(a, str) else (a,) * 3) for a in axes))
            shapes.append((name, tuple(lo), tuple(opt), tuple(hi)))
        return Profile(stage, label, tuple(shapes))

    batch = (1, max_b, max_b)
    out: dict[str, list[Profile]] = {s: [] for s in built_stages(spec)}
    for label, lo, opt, hi in _ranges(buckets.id_edges, overflow):
        for stage in ("encode", "decode"):
            if stage in out:
                out[stage].append(profile(stage, f"ids {label}", {"B": batch, "X": (lo, opt, hi)}))
    for label, lo, opt, hi in _ranges(buckets.frame_edges, overflow):
        out["frames"].append(profile("frames", f"frames {label}", {"B": batch, "X": all_x, "Y": (lo, opt, hi)}))
        out["vocode"].append(profile("vocode", f"frames {label}", {"B": batch, "Y": (lo, opt, hi)}))
    for size in sorted(set(int(s) for s in window_sizes)):
        out["vocode"].append(profile("vocode", f"window {size}", {"B": (1, 1, 1), "Y": (size, size, size)}))
    return out


def engine_cache_fields(
    model: nn.Module,
    profiles: Mapping[str, Sequence[Profile]],
    precision: str,
    fp32_stages: Sequence[str],
    device: Mapping[str, Any],
    trt_version: str,
) -> dict[str, Any]:
    """Everything that decides the engines: the key of their cache directory is a digest of it."""
    return {
        "format": _FORMAT, "weights": weights_digest(model), "versions": {**versions("onnx"), "tensorrt": trt_version},
        "precision": precision, "fp32_stages": sorted(fp32_stages), "device": dict(device),
        "profiles": {s: [p.as_dict() for p in ps] for s, ps in sorted(profiles.items())},
    }


def _import_tensorrt():  # noqa: ANN202
    try:
        import tensorrt as trt
    except ImportError:
        raise ConfigError("the tensorrt runtime needs NVIDIA TensorRT's Python package (pip install tensorrt) "
                          "and a CUDA GPU") from None
    if not torch.cuda.is_available():
        raise ConfigError("the tensorrt runtime needs a CUDA GPU, and torch sees none "
                          f"(torch {torch.__version__}, tensorrt {trt.__version__})")
    return trt


class _StageEngine:
    """A deserialized engine with one execution context per profile (made on first use)."""

    def __init__(self, trt: Any, engine: Any, profiles: Sequence[Profile]) -> None:
        self.engine = engine
        self.profiles = list(profiles)
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        self.inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.outputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        dtypes = {getattr(trt.DataType, k): v for k, v in _TORCH_DTYPES.items() if hasattr(trt.DataType, k)}
        self.dtypes = {n: dtypes[engine.get_tensor_dtype(n)] for n in names}
        self.contexts: dict[int, Any] = {}

    def profile_for(self, shapes: Mapping[str, Sequence[int]]) -> int | None:
        """The profile tuned for exactly these shapes if there is one, else the first that covers them."""
        covering = [i for i, p in enumerate(self.profiles) if p.covers(shapes)]
        exact = [i for i in covering
                 if all(tuple(shapes.get(n, opt)) == opt for n, _, opt, _ in self.profiles[i].shapes)]
        return (exact or covering or [None])[0]


_TORCH_DTYPES = {"FLOAT": torch.float32, "HALF": torch.float16, "BF16": torch.bfloat16, "INT64": torch.int64,
                 "INT32": torch.int32, "BOOL": torch.bool, "INT8": torch.int8}
"""TensorRT DataType member names -> torch dtypes of the buffers bound to them."""


class TensorRTRuntime(StageRunner):
    """Runs the stage graphs as TensorRT engines with a profile per bucket; see the module doc."""

    name = "tensorrt"
    static_shapes = True

    def __init__(
        self,
        model: nn.Module,
        *,
        buckets: BucketConfig | None = None,
        batch_sizes: Sequence[int] | None = None,
        window_sizes: Sequence[int] | None = None,
        precision: str = "fp32",
        fp32_stages: Sequence[str] = ("encode", "decode", "frames"),
        cache_dir: str | Path | None = None,
        device: int = 0,
        workspace_gib: float = 4.0,
        overflow: int = 4,
    ) -> None:
        """`buckets` / `batch_sizes` / `window_sizes` decide the profiles (default: `BucketConfig()`,
        1..its max_batch, the default streaming windows); `warmup` rebuilds for others if needed."""
        if precision not in PRECISIONS:
            raise ConfigError(f"unknown TensorRT precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
        bad = sorted(set(fp32_stages) - set(STAGES))  # decode is named too: families without it ignore it
        if bad:
            raise ConfigError(f"fp32_stages names unknown stages {bad}: choose from {', '.join(STAGES)}")
        self.trt = _import_tensorrt()
        from ..engine.buckets import BucketConfig

        self.model = model.to("cpu", torch.float32).eval()
        self.spec = model.spec
        self.precision, self.fp32_stages, self.overflow = precision, tuple(fp32_stages), overflow
        self.torch_device = torch.device("cuda", device)
        self.device = str(self.torch_device)
        self.ops = TorchOps(self.torch_device)
        self.workspace = int(workspace_gib * (1 << 30))
        self.root = Path(cache_dir) if cache_dir is not None else default_cache_root() / "tensorrt"
        self.logger = self.trt.Logger(self.trt.Logger.WARNING)
        self.buckets = buckets or BucketConfig()
        self.batch_sizes = tuple(batch_sizes or range(1, self.buckets.max_batch + 1))
        if window_sizes is None:
            window_sizes = default_window_sizes(model.spec, self.buckets)
        self.window_sizes = tuple(window_sizes)
        self._build(self.buckets, self.batch_sizes, self.window_sizes)

    # --- building -----------------------------------------------------------------------------------

    def _device_fields(self) -> dict[str, Any]:
        props = torch.cuda.get_device_properties(self.torch_device)
        return {"name": props.name, "capability": f"{props.major}.{props.minor}"}

    def _build(self, buckets: BucketConfig, batch_sizes: Sequence[int], window_sizes: Sequence[int]) -> None:
        self.profiles = stage_profiles(self.spec, buckets, batch_sizes, window_sizes, self.overflow)
        device = self._device_fields()
        fields = engine_cache_fields(self.model, self.profiles, self.precision, self.fp32_stages, device,
                                     self.trt.__version__)
        self.cache = CacheEntry(self.root, fields)
        directory = self.cache.open()
        timing_path = self.root / "timing" / f"{make_key({'device': device, 'tensorrt': self.trt.__version__})}.cache"
        if not all((directory / f"{s}.onnx").is_file() for s in built_stages(self.spec)):
            from .onnx_export import export_stages

            _LOG.info("exporting ONNX stage graphs for TensorRT to %s", directory)
            export_stages(self.model, directory)
        runtime = self.trt.Runtime(self.logger)
        self.engines: dict[str, _StageEngine] = {}
        for stage, profiles in self.profiles.items():
            plan = directory / f"{stage}.plan"
            engine = None
            if plan.is_file():
                try:
                    engine = runtime.deserialize_cuda_engine(plan.read_bytes())
                except (RuntimeError, TypeError, OSError):
                    engine = None
                if engine is None:
                    _LOG.warning("TensorRT engine %s does not deserialize (corrupt or built elsewhere): rebuilding",
                                 plan)
                    self.cache.discard(plan.name)
            if engine is None:
                data = self._build_engine(directory / f"{stage}.onnx", stage, profiles, timing_path)
                atomic_write_bytes(plan, data)
                engine = runtime.deserialize_cuda_engine(data)
                if engine is None:
                    raise SonorantError(f"TensorRT built an engine for {stage} that it cannot load back")
            self.engines[stage] = _StageEngine(self.trt, engine, profiles)

    def _build_engine(self, onnx_path: Path, stage: str, profiles: Sequence[Profile], timing_path: Path) -> bytes:
        trt = self.trt
        builder = trt.Builder(self.logger)
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, self.logger)
        if not parser.parse_from_file(str(onnx_path)):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise SonorantError(f"TensorRT cannot parse {onnx_path}: {errors}")
        present = {network.get_input(i).name for i in range(network.num_inputs)}
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, self.workspace)
        if self.precision != "fp32" and stage not in self.fp32_stages:
            config.set_flag(trt.BuilderFlag.FP16 if self.precision == "fp16" else trt.BuilderFlag.BF16)
        elif hasattr(trt.BuilderFlag, "TF32"):
            config.clear_flag(trt.BuilderFlag.TF32)  # fp32 means fp32 (TF32 matmuls keep 10 mantissa bits)
        try:
            blob = timing_path.read_bytes() if timing_path.is_file() else b""
            timing = config.create_timing_cache(blob)
        except (OSError, RuntimeError):
            _LOG.warning("TensorRT timing cache %s is unreadable: starting a new one", timing_path)
            timing = config.create_timing_cache(b"")
        config.set_timing_cache(timing, ignore_mismatch=False)
        for p in profiles:
            opt_profile = builder.create_optimization_profile()
            for name, lo, opt, hi in p.shapes:
                if name in present:
                    opt_profile.set_shape(name, lo, opt, hi)
            config.add_optimization_profile(opt_profile)
        _LOG.info("building TensorRT %s engine (%s, %d profiles)", stage, self.precision, len(profiles))
        data = builder.build_serialized_network(network, config)
        if data is None:
            raise SonorantError(f"TensorRT failed to build the {stage} engine from {onnx_path} (see its log above)")
        atomic_write_bytes(timing_path, bytes(config.get_timing_cache().serialize()))
        return bytes(data)

    # --- running ------------------------------------------------------------------------------------

    def _run(self, stage: str, feeds: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        eng = self.engines[stage]
        shapes = {n: tuple(t.shape) for n, t in feeds.items()}
        idx = eng.profile_for(shapes)
        if idx is None:
            raise SonorantError(f"no TensorRT {stage} profile covers input shapes {shapes}; build the runtime with "
                                "larger bucket edges, batch sizes or overflow")
        stream = torch.cuda.current_stream(self.torch_device)
        ctx = eng.contexts.get(idx)
        if ctx is None:
            ctx = eng.engine.create_execution_context()
            ctx.set_optimization_profile_async(idx, stream.cuda_stream)
            eng.contexts[idx] = ctx
        keep = []
        for name in eng.inputs:
            t = feeds[name].to(self.torch_device, eng.dtypes[name]).contiguous()
            keep.append(t)
            ctx.set_input_shape(name, tuple(t.shape))
            ctx.set_tensor_address(name, t.data_ptr())
        outs = {}
        for name in eng.outputs:
            out = torch.empty(tuple(ctx.get_tensor_shape(name)), dtype=eng.dtypes[name], device=self.torch_device)
            ctx.set_tensor_address(name, out.data_ptr())
            outs[name] = out
        if not ctx.execute_async_v3(stream.cuda_stream):
            raise SonorantError(f"TensorRT failed to run the {stage} engine")
        return outs

    def run_stage(self, graph: str, feeds: Mapping[str, Any]) -> list[Any]:
        out = self._run(graph, feeds)
        names = list(out)
        if graph == "encode" and "frames" in out:  # frames come back in the engine's integer type
            out["frames"] = out["frames"].long()
        return [out[n].float() if n == "audio" else out[n] for n in names]

    def vocode(self, z: torch.Tensor, frames: np.ndarray, g: torch.Tensor | None) -> torch.Tensor:
        feeds = {"z": z, "lengths": self.ops.asarray(np.asarray(frames, dtype=np.int64)), "g": g}
        return self.run_stage("vocode", feeds)[0]  # [b, t * hop] on the GPU, always masked

    def warmup(self, buckets: BucketConfig, batch_sizes: Sequence[int], window_sizes: Sequence[int]) -> None:
        """Rebuild for these sizes if the engines lack a profile for them, then run every profile once
        (each profile's execution context and its memory are made here, not on a request)."""
        sizes = tuple(sorted({int(b) for b in batch_sizes} | set(self.batch_sizes)))
        wanted = stage_profiles(self.spec, buckets, sizes, tuple(window_sizes), self.overflow)
        if wanted != self.profiles:
            self.buckets, self.batch_sizes, self.window_sizes = buckets, sizes, tuple(window_sizes)
            self._build(buckets, sizes, tuple(window_sizes))
        spec = self.spec
        enc = None
        for b in sizes:
            knobs = np.tile(np.asarray(spec.knob_defaults(), np.float32), (b, 1))  # [b, K]
            seeds = np.zeros(b, np.int64)
            sid = np.zeros(b, np.int64) if spec.multi_speaker else None
            for t_x in buckets.id_edges:
                enc = self.encode_blocks(np.zeros((b, t_x), np.int64), np.full(b, t_x, np.int64), knobs, seeds, sid,
                                         max_blocks=1)
            assert enc is not None
            for t_y in buckets.frame_edges:
                z = self.frames(enc, knobs, seeds, t_y)
                self.vocode(z, np.full(b, t_y, np.int64), enc.g)
        for size in window_sizes:
            g = enc.g[:1] if enc is not None and enc.g is not None else None
            z = torch.zeros(1, spec.channels, size, device=self.torch_device)
            self.vocode(z, np.array([size], np.int64), g)
        torch.cuda.synchronize(self.torch_device)


def default_window_sizes(spec: FamilySpec, buckets: BucketConfig) -> tuple[int, ...]:
    """The streaming vocoder window sizes `Engine.warmup` uses with the default `StreamConfig`."""
    from ..engine.streaming import StreamConfig, windows

    plan = windows(buckets.frame_edges[-1] * 2, spec.vocoder_reach, StreamConfig())
    return tuple(sorted({w.size for w in plan}))
