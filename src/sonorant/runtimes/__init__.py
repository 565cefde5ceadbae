"""Runtimes execute models from outside (eager PyTorch, ONNX Runtime); pick one by name with `make_runtime`."""

from typing import TYPE_CHECKING

from .base import Runtime
from .eager import EagerRuntime

if TYPE_CHECKING:
    from ..models.vits import Vits

__all__ = ["RUNTIMES", "EagerRuntime", "Runtime", "make_runtime"]

RUNTIMES = ("eager", "onnx")
"""Runtime names accepted by `make_runtime`, the CLI's --runtime and `load_voice(runtime=...)`."""


def make_runtime(name: str, model: "Vits", **options: object) -> Runtime:
    """Build the runtime called `name` around `model` (options go to its constructor)."""
    from ..errors import ConfigError

    if name == "eager":
        return EagerRuntime(model, **options)  # type: ignore[arg-type]
    if name == "onnx":
        from .onnx import OnnxRuntime

        return OnnxRuntime(model, **options)  # type: ignore[arg-type]
    raise ConfigError(f"unknown runtime {name!r}: choose one of {', '.join(RUNTIMES)}")
