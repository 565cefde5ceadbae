"""ONNX export shared by the Piper-compatible voice export and the ONNX Runtime stage graphs."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn


def export_onnx(
    module: nn.Module,
    args: tuple[torch.Tensor, ...],
    path: str | Path,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: Mapping[str, Mapping[int, str]],
    *,
    opset: int = 15,
) -> Path:
    """Trace `module` on `args` with the TorchScript exporter (as Piper does) and write `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        # Expected noise from the TorchScript exporter: its deprecation, tracer notes on shape
        # arithmetic (traced dynamically here), and Slice steps it leaves unfolded.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1", category=UserWarning)
        torch.onnx.export(
            module,
            args,
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_axes={k: dict(v) for k, v in dynamic_axes.items() if k in (*input_names, *output_names)},
            do_constant_folding=True,
        )
    return path
