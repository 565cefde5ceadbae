"""ONNX Runtime execution of a model: its stages as dynamic-axis ONNX graphs.

The stage graphs (encode, frames, vocode, and vocode_full for windows without padding) are exported once
per voice and kept in a `runtimes.cache.CacheEntry` under `~/.cache/sonorant/onnx/<key>`, keyed by the
voice's contents (the digest of its file, or of a model's weights), the source of the model and export
code, and the torch / onnx versions that export them. The entry also records the voice's
family spec, so a process that finds it runs on numpy and onnxruntime alone: it never imports torch
or loads the voice's weights. An entry with a missing, truncated or corrupt graph is rebuilt (once, with
a warning), never reported as the user's problem.

Any ONNX Runtime execution provider can run the graphs (CPU by default; CUDA or TensorRT where
installed, chosen with `providers` and falling back, with a warning, to the next one listed and finally
to the CPU). Noise is computed in numpy on the host, which is the CPU provider's device.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..arrays import NumpyOps
from ..errors import ConfigError, SonorantError
from ..models.base import FamilySpec
from .base import GRAPHS, StageRunner, graphs
from .cache import CacheEntry, LazyModel, atomic_write_text, default_cache_root, installed_versions, source_digest

if TYPE_CHECKING:
    from torch import nn

    from ..engine.buckets import BucketConfig

_LOG = logging.getLogger(__name__)
_FORMAT = "sonorant-stages-5"
STAGE_OPSET = 17
"""ONNX opset of the dynamic stage graphs."""
STAGE_GRAPHS = GRAPHS
"""The stage graphs an entry can have, each as `<name>.onnx` (`runtimes.base.graphs(spec)` of its family)."""
_DESCRIPTION = "stages.json"
"""Written last into a complete entry: the family spec and the graphs' names."""


def _code_files() -> list[Path]:
    """The source files that decide what the exported graphs compute."""
    here = Path(__file__).parent
    models = sorted((here.parent / "models").rglob("*.py"))
    return models + [here / n for n in ("onnx_export.py", "layout.py", "stage_modules.py", "base.py")]


def stage_cache_fields(source: str) -> dict[str, Any]:
    """Everything that decides an entry's graphs; `source` digests the voice (file or weights)."""
    return {"format": _FORMAT, "opset": STAGE_OPSET, "source": source, "code": source_digest(_code_files()),
            "versions": installed_versions("torch", "onnx")}


PROVIDER_ALIASES = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider",
                    "tensorrt": "TensorrtExecutionProvider"}
"""Short names accepted in the `providers` option beside ONNX Runtime's own provider names."""


def select_providers(
    requested: Sequence[str | tuple[str, Mapping[str, Any]]],
    available: Sequence[str],
    known: Sequence[str],
    *,
    strict: bool = False,
) -> list[tuple[str, dict[str, Any]]]:
    """The execution providers to ask ONNX Runtime for, in preference order, each with its options.

    Names may be ONNX Runtime's ("CUDAExecutionProvider") or aliases ("cuda"), optionally paired with
    an options dict. A name ONNX Runtime does not know is a `ConfigError`; a known provider missing
    from this onnxruntime build is skipped with a warning (a `ConfigError` when `strict`). The CPU
    provider always comes last, so nodes other providers cannot run still run.
    """
    chosen: list[tuple[str, dict[str, Any]]] = []
    for item in requested:
        name, options = (item, {}) if isinstance(item, str) else (item[0], dict(item[1]))
        full = PROVIDER_ALIASES.get(name.lower(), name) if isinstance(name, str) else name
        if full not in known:
            raise ConfigError(f"unknown ONNX Runtime execution provider {name!r}: use one of "
                              f"{', '.join(PROVIDER_ALIASES)} or a name from onnxruntime.get_all_providers()")
        if full not in available:
            message = (f"ONNX Runtime provider {full} is not available in this onnxruntime build "
                       f"(available: {', '.join(available)})")
            if strict:
                raise ConfigError(message)
            _LOG.warning("%s; falling back to the next provider", message)
            continue
        if full not in (c[0] for c in chosen):
            chosen.append((full, options))
    if "CPUExecutionProvider" not in (c[0] for c in chosen):
        chosen.append(("CPUExecutionProvider", {}))
    return chosen


def _tensorrt_ep_options(stage: str, onnx_path: Path, cache: Path, buckets: BucketConfig | None,
                         spec: FamilySpec, precision: str) -> dict[str, Any]:
    """TensorRT execution-provider options for one stage graph: engine and timing caches beside the
    graphs, fp16 if asked, and one explicit profile spanning the buckets (so no shape rebuilds)."""
    import onnx

    from ..engine.buckets import BucketConfig
    from .tensorrt import stage_profiles

    present = {i.name for i in onnx.load(str(onnx_path), load_external_data=False).graph.input}
    profiles = stage_profiles(spec, buckets or BucketConfig(), range(1, (buckets or BucketConfig()).max_batch + 1))
    stage_profiles_ = profiles[stage.removesuffix("_full")]  # vocode_full: vocode's inputs less `frames`
    typical = stage_profiles_[(len(stage_profiles_) - 1) // 2]  # a middle bucket is the optimum
    spans: dict[str, list[tuple[int, ...]]] = {}
    for p in stage_profiles_:
        for name, lo, _, hi in p.shapes:
            if name in present:
                old = spans.setdefault(name, [lo, lo, hi])
                spans[name] = [tuple(map(min, old[0], lo)), old[1], tuple(map(max, old[2], hi))]
    for name, _, opt, _ in typical.shapes:
        if name in spans:
            spans[name][1] = opt

    def fmt(k: int) -> str:
        return ",".join(f"{n}:{'x'.join(str(d) for d in v[k])}" for n, v in spans.items())

    (cache / "tensorrt").mkdir(parents=True, exist_ok=True)
    reduced = stage.startswith("vocode")  # only the decoder, as in the other runtimes (see .precision)
    options: dict[str, Any] = {"trt_bf16_enable": True} if reduced and precision == "bf16" else {}
    return options | {
        "trt_fp16_enable": reduced and precision == "fp16",
        "trt_engine_cache_enable": True, "trt_engine_cache_path": str(cache / "tensorrt"),
        "trt_engine_cache_prefix": stage, "trt_timing_cache_enable": True,
        "trt_timing_cache_path": str(cache / "tensorrt"),
        "trt_profile_min_shapes": fmt(0), "trt_profile_opt_shapes": fmt(1), "trt_profile_max_shapes": fmt(2),
    }


class OnnxRuntime(StageRunner):
    """Runs the exported stage graphs with ONNX Runtime; any sequence length, no buckets needed."""

    name = "onnx"
    static_shapes = False

    def __init__(
        self,
        model: nn.Module | LazyModel,
        *,
        device: str = "cpu",
        providers: Sequence[str | tuple[str, Mapping[str, Any]]] | None = None,
        cache_dir: str | Path | None = None,
        threads: int | None = None,
        strict_providers: bool = False,
        buckets: BucketConfig | None = None,
        precision: str = "fp32",
    ) -> None:
        """`model` is a family's model (`models.base.StagedModel`), or a `LazyModel` that is built only if the graphs are not cached yet.
        `device` "cpu" or "cuda[:N]" picks the provider unless `providers` lists them in preference
        order ("cpu", "cuda", "tensorrt" or ONNX Runtime's names, each optionally as (name, options));
        unavailable ones are skipped with a warning, or raise `ConfigError` with `strict_providers` (a
        `device` other than the CPU is strict). For the TensorRT provider, `buckets` sets its shape
        profile and `precision` ("fp32", "fp16", "bf16") its kernels."""
        try:
            import onnxruntime as ort
        except ImportError:
            raise ConfigError("the onnx runtime needs onnxruntime: pip install onnxruntime") from None
        if precision not in ("fp32", "fp16", "bf16"):
            raise ConfigError(f"unknown precision {precision!r}: the onnx runtime takes fp32, fp16 or bf16")
        kind, _, index = str(device).partition(":")
        if kind not in ("cpu", "cuda"):
            raise ConfigError(f"the onnx runtime runs on the CPU or a CUDA GPU, not {device!r}")
        if isinstance(providers, str):
            providers = [providers]
        if providers is None:
            providers = ["cpu"] if kind == "cpu" else [("cuda", {"device_id": int(index or 0)})]
            strict_providers = strict_providers or kind != "cpu"
        chosen = select_providers(providers, ort.get_available_providers(), ort.get_all_providers(),
                                  strict=strict_providers)
        if precision != "fp32" and "TensorrtExecutionProvider" not in (name for name, _ in chosen):
            raise ConfigError(f"precision {precision!r} needs ONNX Runtime's TensorRT provider "
                              "(providers=['tensorrt']); the CPU and CUDA providers run these graphs in fp32")
        self._ort = ort
        self._lazy = model if isinstance(model, LazyModel) else None
        self._model = None if isinstance(model, LazyModel) else model
        root = Path(cache_dir) if cache_dir is not None else default_cache_root() / "onnx"
        self.cache = CacheEntry(root, stage_cache_fields(self._source_digest()))
        self.directory = self.cache.path
        self.spec = self._prepare()
        self.ops = NumpyOps()
        self.device = "cpu" if kind == "cpu" else f"cuda:{index or 0}"
        self._chosen = chosen
        self._buckets = buckets
        self._precision = precision
        self._options = self._session_options(threads)
        self.providers = [name for name, _ in chosen]
        self.sessions: dict[str, Any] = {}
        for name in ("encode", "decode", "frames"):  # the vocoders load on first use: a line needs one of them
            if name in graphs(self.spec):
                self._session(name)
        self.active_providers = self.sessions["encode"].get_providers()
        """The providers ONNX Runtime actually uses (it falls back on its own when one fails to load)."""
        on_cpu = self.active_providers[:1] == ["CPUExecutionProvider"]
        usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self.decode_rows = (threads or usable) if on_cpu else 1
        """Rows a decoder pass should have to keep every intra-op thread busy (`Engine.decode` splits long
        windows to get them): the CPU provider's thread count (by default one per CPU this process may
        use); 1 elsewhere."""

    # --- the cache entry ------------------------------------------------------------------------------

    def _source_digest(self) -> str:
        if self._lazy is not None:
            return f"file:{self._lazy.digest}"
        from .onnx_export import model_key

        return f"weights:{model_key(self._model)}"

    @property
    def model(self) -> nn.Module:
        """The torch model behind the graphs (built from the voice file on first use if it was lazy)."""
        if self._model is None:
            assert self._lazy is not None
            self._model = self._lazy.get()
        return self._model

    def _prepare(self) -> FamilySpec:
        """Open the cache entry and make sure it is complete; returns the model's family spec."""
        directory = self.cache.open()
        described = self._read_description(directory)
        if described is not None:
            return described
        self._export(directory)
        described = self._read_description(directory)
        if described is None:
            raise SonorantError(f"the ONNX stage graphs in {directory} could not be written")
        return described

    @staticmethod
    def _read_description(directory: Path) -> FamilySpec | None:
        """The spec of a complete entry, or None if anything is missing or unreadable."""
        try:
            data = json.loads((directory / _DESCRIPTION).read_text(encoding="utf-8"))
            cfg = FamilySpec.from_dict(data["spec"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            _LOG.warning("ONNX cache entry %s has an unreadable %s (%s): exporting again", directory, _DESCRIPTION, exc)
            return None
        missing = [n for n in graphs(cfg) if not (directory / f"{n}.onnx").is_file()]
        if missing:
            _LOG.warning("ONNX cache entry %s lacks %s: exporting again", directory, ", ".join(missing))
            return None
        return cfg

    def _export(self, directory: Path) -> None:
        """Export every graph into a staging folder, move them in, and write the description last."""
        from .onnx_export import export_stages

        _LOG.warning("preparing %s for ONNX Runtime: exporting its stage graphs to %s (once per voice and sonorant "
                     "version, about half a minute; later runs load them)",
                     self._lazy.description if self._lazy is not None else "the voice", directory)
        model = self.model
        staging = directory / f".staging-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            paths = export_stages(model, staging)
            for name in graphs(model.spec):
                os.replace(paths[name], directory / f"{name}.onnx")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        atomic_write_text(directory / _DESCRIPTION,
                          json.dumps({"spec": model.spec.to_dict(), "graphs": list(graphs(model.spec))}, indent=2))
        self.cache.prune_siblings()

    def _rebuild(self, name: str, exc: Exception) -> None:
        """A graph failed to load: empty the entry and export everything again (once per process)."""
        if getattr(self, "_rebuilt", False):
            raise SonorantError(f"ONNX Runtime cannot load the freshly exported {name} graph in {self.directory} "
                                f"({exc.__class__.__name__}: {str(exc)[:300]})") from None
        self._rebuilt = True
        _LOG.warning("ONNX cache entry %s: the %s graph does not load (%s); exporting the graphs again",
                     self.directory, name, exc.__class__.__name__)
        self.sessions.clear()
        self.cache.wipe()
        self._prepare()

    # --- sessions -------------------------------------------------------------------------------------

    def _session_options(self, threads: int | None) -> Any:
        opts = self._ort.SessionOptions()
        opts.graph_optimization_level = self._ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            opts.intra_op_num_threads = threads
        # Workers spin between a run's operators (no wake-up per operator) but stop when the run ends: the
        # sessions run one after another, and idle spinning pools would steal the next one's cores (and the
        # text front end's). Measured on 2 cores: 10 % less wall time than no spinning, 30 % less than ONNX
        # Runtime's default (which keeps spinning after the run).
        opts.add_session_config_entry("session.force_spinning_stop", "1")
        return opts

    def _session(self, name: str) -> Any:
        """The session of one stage graph, created on first use (a corrupt graph rebuilds the entry)."""
        session = self.sessions.get(name)
        if session is not None:
            return session
        path = self.directory / f"{name}.onnx"
        stage_providers = []
        for provider, options in self._chosen:
            if provider == "TensorrtExecutionProvider":
                options = {**_tensorrt_ep_options(name, path, self.directory, self._buckets, self.spec,
                                                  self._precision), **options}
            elif provider == "CUDAExecutionProvider":
                options = {"device_id": 0, **options}
            stage_providers.append((provider, options))
        cpu_only = [p for p, _ in self._chosen] == ["CPUExecutionProvider"]
        optimized = self.directory / f"{name}.ort-{self._ort.__version__}.onnx"
        session = None
        if cpu_only and optimized.is_file():
            try:
                session = self._ort.InferenceSession(str(optimized), self._options, providers=stage_providers)
            except Exception as exc:  # onnxruntime's own error types: drop the copy, use the graph itself
                _LOG.warning("ONNX cache entry %s: the optimized %s graph does not load (%s); using the exported "
                             "one", self.directory, name, exc.__class__.__name__)
                optimized.unlink(missing_ok=True)
        if session is None:
            try:
                session = self._ort.InferenceSession(str(path), self._options, providers=stage_providers)
            except Exception as exc:  # onnxruntime raises its own Fail / InvalidProtobuf / NoSuchFile types
                self._rebuild(name, exc)
                return self._session(name)
            if cpu_only:
                self._save_optimized(path, optimized)
        active = session.get_providers()
        if active[:1] != self.providers[:1]:
            _LOG.warning("ONNX Runtime runs the %s graph with %s although %s was asked for (see its log)",
                         name, active[0] if active else "nothing", self.providers[0])
        self.sessions[name] = session
        return session

    def _save_optimized(self, path: Path, target: Path) -> None:
        """Keep the graph as ONNX Runtime's portable (extended-level) optimizer leaves it: loading that copy
        skips most of the optimizer's work, which is most of a session's start-up (0.39 s -> 0.18 s for the
        three graphs a sentence needs, on 2 cores). The hardware-specific layout passes still run at load."""
        opts = self._ort.SessionOptions()
        opts.graph_optimization_level = self._ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        opts.optimized_model_filepath = str(tmp)
        try:
            self._ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            os.replace(tmp, target)
        except Exception as exc:  # the copy is an optimization only: without it every start optimizes again
            _LOG.debug("could not save the optimized %s: %s", path.name, exc)
        finally:
            tmp.unlink(missing_ok=True)

    def run_stage(self, graph: str, feeds: Mapping[str, Any]) -> list[np.ndarray]:
        session = self._session(graph)
        names = {i.name for i in session.get_inputs()}  # the tracer drops inputs a graph does not use
        return session.run(None, {k: np.ascontiguousarray(v) for k, v in feeds.items() if k in names})
