"""ONNX Runtime execution of a VITS voice: the three stages exported as dynamic-axis ONNX graphs.

The stage graphs (encode, latent, vocode) are exported once per model and cached on disk under a key
made of the weights, the model config, the exporter's inputs and the torch/onnx versions, so a stale
graph is never used for a different model. Any ONNX Runtime execution provider can run them (CPU by
default; CUDA or TensorRT where installed, chosen with the `providers` option and falling back, with a
warning, to the next one listed and finally to the CPU).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, SonorantError
from ..models.vits import Encoded, Vits
from .layout import conv2d_copy
from .onnx_export import export_onnx

if TYPE_CHECKING:
    from ..engine.buckets import BucketConfig

_LOG = logging.getLogger(__name__)
_OPSET = 17
_FORMAT = "sonorant-vits-stages-2"


class _Encode(nn.Module):
    def __init__(self, model: Vits) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids, lengths, noise_w, length_scale, dur_noise, sid=None):  # noqa: ANN001, ANN201
        e = self.model.encode(ids, lengths, noise_w, length_scale, dur_noise, sid)
        return (e.m_p, e.logs_p, e.durations, e.frames) + (() if e.g is None else (e.g,))


class _Latent(nn.Module):
    def __init__(self, model: Vits) -> None:
        super().__init__()
        self.model = model

    def forward(self, m_p, logs_p, durations, frames, noise_scale, z_noise, g=None):  # noqa: ANN001, ANN201
        return self.model.latent(Encoded(m_p, logs_p, durations, frames, g), noise_scale, z_noise)


class _Vocode(nn.Module):
    """The decoder with 2-D convolutions (see `layout.conv2d_copy`); `padded=False` leaves out the
    masks, for batches whose rows all fill the window (the same samples, less work)."""

    def __init__(self, model: Vits, padded: bool = True) -> None:
        super().__init__()
        self.dec = conv2d_copy(model.dec)
        self.padded = padded

    def forward(self, z, *rest):  # noqa: ANN001, ANN201
        frames, rest = (rest[0], rest[1:]) if self.padded else (None, rest)  # then the speaker embedding, if any
        return self.dec(z.unsqueeze(2), frames, g=rest[0] if rest else None)  # [b, c, 1, t] in


def model_key(model: Vits) -> str:
    """A digest of everything that decides the exported graphs: weights, config, versions."""
    import onnx

    h = hashlib.sha256()
    h.update(f"{_FORMAT}|{_OPSET}|{torch.__version__}|{onnx.__version__}|{model.cfg!r}".encode())
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()[:24]


def export_stages(model: Vits, directory: str | Path) -> dict[str, Path]:
    """Write encode.onnx, latent.onnx, vocode.onnx and vocode_full.onnx (no padding) for `model` into `directory`."""
    directory = Path(directory)
    model = model.to("cpu", torch.float32).eval()
    cfg = model.cfg
    multi = cfg.n_speakers > 1
    b, t_x = 2, 24
    ids = torch.randint(1, cfg.n_vocab, (b, t_x))
    lengths = torch.tensor([t_x, t_x - 5])
    ones = torch.ones(b)
    sid = torch.zeros(b, dtype=torch.long) if multi else None
    with torch.no_grad():
        enc = model.encode(ids, lengths, ones, ones, torch.zeros(b, 2, t_x), sid)
        t_y = int(enc.frames.max())
        z = model.latent(enc, ones, torch.zeros(b, cfg.inter_channels, t_y))
    g_in = (enc.g,) if multi else ()
    bt = {0: "batch", 1: "phonemes"}
    paths = {
        "encode": export_onnx(
            _Encode(model), (ids, lengths, ones, ones, torch.zeros(b, 2, t_x)) + ((sid,) if multi else ()),
            directory / "encode.onnx",
            ["ids", "lengths", "noise_w", "length_scale", "dur_noise"] + (["sid"] if multi else []),
            ["m_p", "logs_p", "durations", "frames"] + (["g"] if multi else []),
            {"ids": bt, "lengths": {0: "batch"}, "noise_w": {0: "batch"}, "length_scale": {0: "batch"},
             "dur_noise": {0: "batch", 2: "phonemes"}, "sid": {0: "batch"}, "m_p": {0: "batch", 2: "phonemes"},
             "logs_p": {0: "batch", 2: "phonemes"}, "durations": bt, "frames": {0: "batch"}, "g": {0: "batch"}},
            opset=_OPSET,
        ),
        "latent": export_onnx(
            _Latent(model), (enc.m_p, enc.logs_p, enc.durations, enc.frames, ones,
                             torch.zeros(b, cfg.inter_channels, t_y)) + g_in,
            directory / "latent.onnx",
            ["m_p", "logs_p", "durations", "frames", "noise_scale", "z_noise"] + (["g"] if multi else []),
            ["z"],
            {"m_p": {0: "batch", 2: "phonemes"}, "logs_p": {0: "batch", 2: "phonemes"}, "durations": bt,
             "frames": {0: "batch"}, "noise_scale": {0: "batch"}, "z_noise": {0: "batch", 2: "frames"},
             "g": {0: "batch"}, "z": {0: "batch", 2: "frames"}},
            opset=_OPSET,
        ),
        "vocode": export_onnx(
            _Vocode(model), (z, enc.frames) + g_in, directory / "vocode.onnx",
            ["z", "frames"] + (["g"] if multi else []), ["audio"],
            {"z": {0: "batch", 2: "frames"}, "frames": {0: "batch"}, "g": {0: "batch"}, "audio": {0: "batch", 1: "samples"}},
            opset=_OPSET,
        ),
        "vocode_full": export_onnx(
            _Vocode(model, padded=False), (z,) + g_in, directory / "vocode_full.onnx",
            ["z"] + (["g"] if multi else []), ["audio"],
            {"z": {0: "batch", 2: "frames"}, "g": {0: "batch"}, "audio": {0: "batch", 1: "samples"}},
            opset=_OPSET,
        ),
    }
    return paths


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
                         model: Vits, precision: str) -> dict[str, Any]:
    """TensorRT execution-provider options for one stage graph: engine and timing caches beside the
    graphs, fp16 if asked, and one explicit profile spanning the buckets (so no shape rebuilds)."""
    import onnx

    from ..engine.buckets import BucketConfig
    from .tensorrt import stage_profiles

    present = {i.name for i in onnx.load(str(onnx_path), load_external_data=False).graph.input}
    profiles = stage_profiles(model.cfg, buckets or BucketConfig(), range(1, (buckets or BucketConfig()).max_batch + 1))
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


class OnnxRuntime:
    """Runs the exported stage graphs with ONNX Runtime; any sequence length, no buckets needed."""

    name = "onnx"
    static_shapes = False

    def __init__(
        self,
        model: Vits,
        *,
        providers: Sequence[str | tuple[str, Mapping[str, Any]]] | None = None,
        cache_dir: str | Path | None = None,
        threads: int | None = None,
        strict_providers: bool = False,
        buckets: BucketConfig | None = None,
        precision: str = "fp32",
    ) -> None:
        """`providers` lists execution providers in preference order ("cpu", "cuda", "tensorrt" or
        ONNX Runtime's names, each optionally as (name, options)); unavailable ones are skipped with a
        warning, or raise `ConfigError` with `strict_providers`. For the TensorRT provider, `buckets`
        sets its shape profile and `precision` ("fp32", "fp16", "bf16") its kernels."""
        try:
            import onnxruntime as ort
        except ImportError:
            raise SonorantError("the onnx runtime needs onnxruntime: pip install 'sonorant[onnx]'") from None
        if precision not in ("fp32", "fp16", "bf16"):
            raise ConfigError(f"unknown precision {precision!r}: choose fp32, fp16 or bf16")
        if isinstance(providers, str):
            providers = [providers]
        chosen = select_providers(providers or ["CPUExecutionProvider"], ort.get_available_providers(),
                                  ort.get_all_providers(), strict=strict_providers)
        if precision != "fp32" and "TensorrtExecutionProvider" not in (name for name, _ in chosen):
            raise ConfigError(f"precision {precision!r} needs ONNX Runtime's TensorRT provider "
                              "(providers=['tensorrt']); the CPU and CUDA providers run these graphs in fp32")
        self.model = model
        self.multi = model.cfg.n_speakers > 1
        root = Path(cache_dir) if cache_dir is not None else Path.home() / ".cache" / "sonorant" / "onnx"
        directory = root / model_key(model)
        names = ("encode", "latent", "vocode", "vocode_full")
        if not all((directory / f"{n}.onnx").is_file() for n in names):
            _LOG.info("exporting ONNX stage graphs to %s", directory)
            # Export beside the cache entry and rename, so an interrupted export never leaves a
            # truncated graph under the final name.
            staging = directory.with_name(f"{directory.name}.{os.getpid()}.tmp")
            export_stages(model, staging)
            try:
                staging.rename(directory)
            except OSError:  # another process finished first: use its graphs
                shutil.rmtree(staging, ignore_errors=True)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            opts.intra_op_num_threads = threads
        # Workers spin between a run's operators (no wake-up per operator) but stop when the run ends: the
        # three sessions run one after another, and idle spinning pools would steal the next one's cores
        # (and PyTorch's and the text front end's). Measured on 2 cores: 10 % less wall time than no
        # spinning, 30 % less than ONNX Runtime's default (which keeps spinning after the run).
        opts.add_session_config_entry("session.force_spinning_stop", "1")
        self.providers = [name for name, _ in chosen]
        self.sessions = {}
        for n in names:
            path = directory / f"{n}.onnx"
            stage_providers = []
            for name, options in chosen:
                if name == "TensorrtExecutionProvider":
                    options = {**_tensorrt_ep_options(n, path, directory, buckets, model, precision), **options}
                elif name == "CUDAExecutionProvider":
                    options = {"device_id": 0, **options}
                stage_providers.append((name, options))
            try:
                self.sessions[n] = ort.InferenceSession(str(path), opts, providers=stage_providers)
            except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
                raise SonorantError(f"cannot load the ONNX stage graphs in {directory} ({exc.__class__.__name__}: "
                                    f"{exc}); delete that directory to export them again") from None
            active = self.sessions[n].get_providers()
            if active[:1] != self.providers[:1]:
                _LOG.warning("ONNX Runtime runs the %s graph with %s although %s was asked for (see its log)",
                             n, active[0] if active else "nothing", self.providers[0])
        self.active_providers = self.sessions["vocode"].get_providers()
        """The providers ONNX Runtime actually uses (it falls back on its own when one fails to load)."""
        on_cpu = self.active_providers[:1] == ["CPUExecutionProvider"]
        usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self.decode_rows = (threads or usable) if on_cpu else 1
        """Rows a decoder pass should have to keep every intra-op thread busy (`Engine.decode` splits long
        windows to get them): the CPU provider's thread count (by default one per CPU this process may
        use); 1 elsewhere."""

    @staticmethod
    def _np(t: torch.Tensor) -> np.ndarray:
        return t.detach().cpu().numpy()

    def encode(self, ids, lengths, noise_w, length_scale, dur_noise, sid):  # noqa: ANN001, ANN201
        feeds = {"ids": self._np(ids), "lengths": self._np(lengths), "noise_w": self._np(noise_w),
                 "length_scale": self._np(length_scale), "dur_noise": self._np(dur_noise)}
        if self.multi:
            feeds["sid"] = self._np(sid if sid is not None else torch.zeros(ids.shape[0], dtype=torch.long))
        out = [torch.from_numpy(o) for o in self.sessions["encode"].run(None, feeds)]
        return Encoded(out[0], out[1], out[2], out[3], out[4] if self.multi else None)

    def latent(self, enc: Encoded, noise_scale: torch.Tensor, z_noise: torch.Tensor) -> torch.Tensor:
        feeds = {"m_p": self._np(enc.m_p), "logs_p": self._np(enc.logs_p), "durations": self._np(enc.durations),
                 "frames": self._np(enc.frames), "noise_scale": self._np(noise_scale), "z_noise": self._np(z_noise)}
        if self.multi:
            feeds["g"] = self._np(enc.g)
        return torch.from_numpy(self.sessions["latent"].run(None, feeds)[0])

    def vocode(self, z: torch.Tensor, frames: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        full = bool((frames == z.shape[-1]).all())  # no padding: the unmasked graph gives the same samples
        feeds = {"z": self._np(z)} if full else {"z": self._np(z), "frames": self._np(frames)}
        if self.multi:
            feeds["g"] = self._np(g)
        return torch.from_numpy(self.sessions["vocode_full" if full else "vocode"].run(None, feeds)[0])
