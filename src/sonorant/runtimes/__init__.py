"""Runtimes execute models from outside: eager PyTorch now; compiled and exported backends plug in here."""

from .base import Runtime
from .eager import EagerRuntime

__all__ = ["EagerRuntime", "Runtime"]
