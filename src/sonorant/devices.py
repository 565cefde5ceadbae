"""Devices ("auto", "cpu", "cuda", "cuda:N", "xla") and the runtime that is fastest on each.

`resolve(device, runtime)` turns what a user asked for into a concrete pair, or a `ConfigError` that
names what exists. Deciding "auto" on a machine without a GPU imports nothing: torch is looked at only
when its installed build could drive a GPU and the machine has NVIDIA's driver, so the default CPU path
(ONNX Runtime) starts without loading torch at all.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from importlib import metadata

from .errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "cuda:N", "xla")
"""Device names `load_voice(device=...)` and the CLI's --device accept (N: a GPU index)."""

FASTEST = {"cpu": "onnx", "cuda": "compile", "xla": "xla"}
"""The runtime "auto" picks per device kind (README, "Devices and runtimes": measured on the CPU; on
CUDA from the decoder alone, compiled 11,000x vs eager 8,200x real time on an H200)."""

NATURAL_DEVICE = {"onnx": "cpu", "xla": "xla", "tensorrt": "cuda"}
"""Where a runtime named without a device runs (eager and compile follow "auto")."""

_CUDA_RUNTIMES = ("eager", "compile", "onnx", "tensorrt")
_CPU_RUNTIMES = ("eager", "compile", "onnx")


def _installed(module: str) -> bool:
    return module in sys.modules or importlib.util.find_spec(module) is not None


def _torch_could_use_a_gpu() -> bool:
    """Cheap checks before importing torch: a CUDA-capable build and NVIDIA's driver on this machine."""
    if "torch" in sys.modules:
        return True
    try:
        version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        return False
    if version.endswith("+cpu"):
        return False
    return any(os.path.exists(p) for p in ("/dev/nvidiactl", "/proc/driver/nvidia/version"))


def cuda_count() -> int:
    """CUDA devices torch can use (0 without a CUDA build, a driver or a GPU)."""
    if not _torch_could_use_a_gpu():
        return 0
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _describe_cuda_absence() -> str:
    try:
        version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "torch is not installed"
    if version.endswith("+cpu"):
        return f"the installed torch {version} is a CPU-only build"
    return f"torch {version} sees no CUDA GPU"


def available_devices() -> list[str]:
    """Devices usable in this process, e.g. ["cpu", "cuda:0", "cuda:1"] (xla where torch_xla is installed)."""
    out = ["cpu"] + [f"cuda:{i}" for i in range(cuda_count())]
    if _installed("torch_xla"):
        out.append("xla")
    return out


def resolve_device(device: str | None) -> str:
    """A concrete device ("cpu", "cuda:N" or "xla") for what was asked; `ConfigError` if it does not exist."""
    name = "auto" if device is None else str(device).strip().lower()
    if name == "auto":
        return "cuda:0" if cuda_count() > 0 else "cpu"
    if name == "cpu":
        return "cpu"
    match = re.fullmatch(r"cuda(?::(\d+))?", name)
    if match:
        n = cuda_count()
        if n == 0:
            raise ConfigError(f"device {device!r} is not available: {_describe_cuda_absence()}; "
                              f"available: {', '.join(available_devices())}")
        index = int(match.group(1) or 0)
        if index >= n:
            gpus = ", ".join(f"cuda:{i}" for i in range(n))
            raise ConfigError(f"device {device!r} does not exist: this machine has {n} CUDA GPU"
                              f"{'s' if n > 1 else ''} ({gpus})")
        return f"cuda:{index}"
    if re.fullmatch(r"xla(?::\d+)?", name):
        if not _installed("torch_xla"):
            raise ConfigError(f"device {device!r} needs torch-xla (pip install torch==2.9.0 torch-xla==2.9.0 in "
                              f"its own environment; README, PyTorch/XLA); available: {', '.join(available_devices())}")
        return name
    raise ConfigError(f"unknown device {device!r}: use one of {', '.join(DEVICES)}")


def resolve(device: str | None, runtime: str | None) -> tuple[str, str]:
    """The (device, runtime) pair to run on: "auto" runtimes become the fastest one for the device, and
    "auto" devices the one an explicitly named runtime runs on; mismatches are a `ConfigError`."""
    from .runtimes import RUNTIMES

    runtime = "auto" if runtime is None else str(runtime).strip().lower()
    if runtime != "auto" and runtime not in RUNTIMES:
        raise ConfigError(f"unknown runtime {runtime!r}: choose one of auto, {', '.join(RUNTIMES)}")
    asked = "auto" if device is None else str(device).strip().lower()
    if asked == "auto" and runtime in NATURAL_DEVICE:
        asked = NATURAL_DEVICE[runtime]
    resolved = resolve_device(asked)
    kind = resolved.split(":")[0]
    if runtime == "auto":
        runtime = FASTEST[kind]
        if runtime == "onnx" and not _installed("onnxruntime"):
            runtime = "eager"
        return resolved, runtime
    allowed = {"cpu": _CPU_RUNTIMES, "cuda": _CUDA_RUNTIMES, "xla": ("xla",)}[kind]
    if runtime not in allowed:
        raise ConfigError(f"runtime {runtime!r} does not run on device {resolved!r}: on {kind} use "
                          f"{', '.join(allowed)}")
    return resolved, runtime
