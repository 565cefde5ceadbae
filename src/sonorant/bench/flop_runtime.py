"""The eager runtime with a FLOP counter around each stage (imports torch: loaded only by `count_flops`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..runtimes.eager import EagerRuntime


class CountingRuntime(EagerRuntime):
    """Runs `model` eagerly on the CPU and adds each stage's matmul and convolution FLOPs to `flops`
    (vocode and vocode_full both count as vocode)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model)
        self.flops: dict[str, int] = {"encode": 0, "frames": 0, "vocode": 0}

    def run_stage(self, graph: str, feeds: Mapping[str, Any]) -> list[Any]:
        with FlopCounterMode(display=False) as counter:
            out = super().run_stage(graph, feeds)
        self.flops[graph.removesuffix("_full")] += int(counter.get_total_flops())
        return out
