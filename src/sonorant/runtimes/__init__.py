"""Runtimes execute models from outside (eager PyTorch, torch.compile, ONNX Runtime, PyTorch/XLA,
TensorRT); pick one by name with `make_runtime`. Backends are imported only when chosen, so a process
that runs ONNX Runtime never imports torch."""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .base import Runtime

if TYPE_CHECKING:
    from .eager import EagerRuntime

__all__ = ["RUNTIMES", "EagerRuntime", "Runtime", "make_runtime"]

_IMPLEMENTATIONS = {
    "eager": (".eager", "EagerRuntime"),
    "compile": (".compile", "CompileRuntime"),
    "onnx": (".onnx", "OnnxRuntime"),
    "xla": (".xla", "XlaRuntime"),
    "tensorrt": (".tensorrt", "TensorRTRuntime"),
}

RUNTIMES = tuple(_IMPLEMENTATIONS)
"""Runtime names accepted by `make_runtime`, the CLI's --runtime and `load_voice(runtime=...)` (which
also takes "auto": see `sonorant.devices.choose_runtime`)."""


def runtime_class(name: str) -> Any:
    """The class of the runtime called `name`; `ConfigError` if unknown or its backend is not installed."""
    from ..errors import ConfigError

    if name not in _IMPLEMENTATIONS:
        raise ConfigError(f"unknown runtime {name!r}: choose one of auto, {', '.join(RUNTIMES)}")
    module, cls = _IMPLEMENTATIONS[name]
    try:
        return getattr(import_module(module, __name__), cls)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(__name__):
            raise ConfigError(f"runtime {name!r} is not available in this build of sonorant") from None
        raise ConfigError(f"runtime {name!r} needs {exc.name!r}, which is not installed") from None


def make_runtime(name: str, model: Any, **options: object) -> Runtime:
    """Build the runtime called `name` around `model` (options go to its constructor).

    `model` is a `Vits`, or for the onnx runtime also a `runtimes.cache.LazyModel`. A runtime whose
    backend is not installed raises `ConfigError` naming what to install.
    """
    from ..errors import ConfigError
    from .cache import LazyModel

    impl = runtime_class(name)
    if isinstance(model, LazyModel) and name != "onnx":
        model = model.get()
    if getattr(getattr(model, "spec", None), "tokens", None) is not None:  # a token family: its own loops
        from .tokens import MODES, TokenRuntime

        if name not in MODES:
            raise ConfigError(f"token voices run on the {', '.join(MODES)} runtimes, not {name!r}")
        try:
            return TokenRuntime(model, mode=name, **options)
        except TypeError as exc:
            raise ConfigError(f"runtime {name!r}: {exc}") from None
    try:
        return impl(model, **options)
    except TypeError as exc:  # an option this runtime does not take
        raise ConfigError(f"runtime {name!r}: {exc}") from None


def __getattr__(name: str) -> Any:
    if name == "EagerRuntime":
        from .eager import EagerRuntime

        return EagerRuntime
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
