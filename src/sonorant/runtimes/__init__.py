"""Runtimes execute models from outside (eager PyTorch, torch.compile, ONNX Runtime, PyTorch/XLA,
TensorRT); pick one by name with `make_runtime`. Optional backends are imported only when chosen."""

from importlib import import_module
from typing import TYPE_CHECKING

from .base import Runtime
from .eager import EagerRuntime

if TYPE_CHECKING:
    from ..models.vits import Vits

__all__ = ["RUNTIMES", "EagerRuntime", "Runtime", "make_runtime"]

_IMPLEMENTATIONS = {
    "eager": (".eager", "EagerRuntime"),
    "compile": (".compile", "CompileRuntime"),
    "onnx": (".onnx", "OnnxRuntime"),
    "xla": (".xla", "XlaRuntime"),
    "tensorrt": (".tensorrt", "TensorRTRuntime"),
}

RUNTIMES = tuple(_IMPLEMENTATIONS)
"""Runtime names accepted by `make_runtime`, the CLI's --runtime and `load_voice(runtime=...)`."""


def make_runtime(name: str, model: "Vits", **options: object) -> Runtime:
    """Build the runtime called `name` around `model` (options go to its constructor).

    A runtime whose backend is not installed raises `ConfigError` naming what to install.
    """
    from ..errors import ConfigError

    if name not in _IMPLEMENTATIONS:
        raise ConfigError(f"unknown runtime {name!r}: choose one of {', '.join(RUNTIMES)}")
    module, cls = _IMPLEMENTATIONS[name]
    try:
        impl = getattr(import_module(module, __name__), cls)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(__name__):
            raise ConfigError(f"runtime {name!r} is not available in this build of sonorant") from None
        raise ConfigError(f"runtime {name!r} needs {exc.name!r}, which is not installed") from None
    try:
        return impl(model, **options)
    except TypeError as exc:  # an option this runtime does not take
        raise ConfigError(f"runtime {name!r}: {exc}") from None
