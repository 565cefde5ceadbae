"""Plain PyTorch execution of a model, in inference mode, on one device (CPU or CUDA)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from .base import StageRunner
from .precision import decoder_dtype, decoder_scope
from .stage_modules import stage_calls
from .torch_ops import TorchOps, strict_fp32


class EagerRuntime(StageRunner):
    """Runs a family's stage modules directly; shapes need not be bucketed.

    `precision` ("fp32", "tf32", "bf16", "fp16") sets the vocoder's arithmetic; the stages before it
    always run in strict fp32 (see `sonorant.runtimes.precision`).
    """

    name = "eager"
    static_shapes = False

    def __init__(self, model: nn.Module, device: str | torch.device = "cpu", precision: str = "fp32") -> None:
        self.torch_device = torch.device(device)
        self.device = str(self.torch_device)
        self.ops = TorchOps(self.torch_device)
        self.model = model.to(self.torch_device).eval()
        self.spec = model.spec
        self.precision = precision
        self.dtype = decoder_dtype(precision, self.torch_device)
        self.calls = stage_calls(self.model, self.dtype)

    def run_stage(self, graph: str, feeds: Mapping[str, Any]) -> list[Any]:
        call = self.calls[graph]
        args = [feeds[n] for n in call.names]
        vocoder = graph.startswith("vocode")
        with torch.inference_mode(), decoder_scope(self.precision) if vocoder else strict_fp32():
            out = call(*args)
        return list(out) if isinstance(out, tuple) else [out]
