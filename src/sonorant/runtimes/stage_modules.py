"""A family's stage modules as the runtimes call them: with exactly the inputs its spec names, flat and
in order (`runtimes.base.stage_inputs`), so one wrapper serves eager calls, torch.compile, ONNX export,
XLA tracing and TensorRT."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..models.base import FamilySpec
from .base import stage_inputs


class StageCall(nn.Module):
    """Calls `module` (one of a model's `stages()`) with positional tensors named by `stage_inputs`; the
    inputs the family does not use are passed as None. For the vocoder graphs `dtype` is the arithmetic
    (inputs are cast to it, audio comes back as float32) and `unit_axis` feeds [b, c, 1, t] to a copy whose
    convolutions are 2-D (`layout.conv2d_copy`)."""

    def __init__(self, module: nn.Module, spec: FamilySpec, graph: str, dtype: torch.dtype = torch.float32,
                 unit_axis: bool = False) -> None:
        super().__init__()
        self.module = module
        self.names = stage_inputs(spec, graph)
        self.graph = graph
        self.dtype = dtype
        self.unit_axis = unit_axis

    def forward(self, *args: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        kw = dict(zip(self.names, args))
        if self.graph in ("vocode", "vocode_full"):
            z, g = kw["z"].to(self.dtype), kw.get("g")
            if self.unit_axis:
                z = z.unsqueeze(2)  # [b, c, 1, t]
            audio = self.module(z, kw.get("lengths"), None if g is None else g.to(self.dtype))
            return audio if audio.dtype == torch.float32 else audio.float()  # [b, t * hop]
        return self.module(**kw)


def stage_calls(model: nn.Module, dtype: torch.dtype = torch.float32, unit_axis: bool = False) -> dict[str, StageCall]:
    """Every graph of `model` (`runtimes.base.GRAPHS`) as a `StageCall`. The vocoder runs in `dtype`: below
    float32 on a copy, so the model's own weights stay float32; with `unit_axis` on a 2-D-conv copy."""
    from .layout import conv2d_copy

    spec, stages = model.spec, model.stages()
    vocoder = stages["vocode"]
    if unit_axis:
        vocoder = conv2d_copy(vocoder)
    elif dtype is not torch.float32:
        vocoder = copy.deepcopy(vocoder)
    vocoder = vocoder.to(dtype)
    calls = {
        "encode": StageCall(stages["encode"], spec, "encode"),
        "frames": StageCall(stages["frames"], spec, "frames"),
        "vocode": StageCall(vocoder, spec, "vocode", dtype, unit_axis),
        "vocode_full": StageCall(vocoder, spec, "vocode_full", dtype, unit_axis),
    }
    if spec.decoder is not None:
        calls["decode"] = StageCall(stages["decode"], spec, "decode")
    return calls
