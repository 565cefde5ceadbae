"""ONNX export shared by the Piper-compatible voice export and the ONNX Runtime stage graphs: `export_stages`
writes a family's graphs (`runtimes.base.GRAPHS`) from its stage modules, with the inputs, outputs and
dynamic axes its spec names."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from .base import axes, graphs, stage_outputs
from .onnx import STAGE_OPSET
from .stage_modules import stage_calls


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
    """Trace `module` on `args` with the TorchScript exporter (as Piper does) and write `path`. Every submodule
    keeps its train/eval mode: the exporter restores only the top module's flag, recursively, which would
    put a shared model's submodules in training mode (dropout on) under a freshly made wrapper."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    modes = [(m, m.training) for m in module.modules()]
    try:
        _export(module, args, path, input_names, output_names, dynamic_axes, opset)
    finally:
        for m, training in modes:
            m.training = training
    return path


def _export(module: nn.Module, args: tuple[torch.Tensor, ...], path: Path, input_names: Sequence[str],
            output_names: Sequence[str], dynamic_axes: Mapping[str, Mapping[int, str]], opset: int) -> None:
    with warnings.catch_warnings(), torch.no_grad():
        # Expected noise from the TorchScript exporter: its deprecation, tracer notes on shape
        # arithmetic (traced dynamically here), and Slice steps it leaves unfolded.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1", category=UserWarning)
        # Tacotron2's encoder LSTM: its exported graphs are tested at other batch sizes than the traced one.
        warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size other than 1")
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


def model_key(model: nn.Module) -> str:
    """A digest of the model's weights and config (what decides the exported graphs' contents)."""
    from .cache import weights_digest

    return weights_digest(model)[:24]


def example_inputs(model: nn.Module, b: int = 2, t_x: int = 24, t_y: int | None = None,
                   ragged: bool = True) -> dict[str, dict[str, torch.Tensor]]:
    """Inputs of every graph of `model` (`GRAPHS`), made by running its stages on random ids: what
    tracing needs. `ragged` gives rows unequal lengths (so nothing specialises on one); `t_y` fixes the
    frame width (default: the longest row's frames); the vocoder's `lengths` are then all `t_y`."""
    spec, calls = model.spec, stage_calls(model)
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(1, spec.n_vocab, (b, t_x), generator=gen)
    lengths = torch.tensor([t_x] + [max(1, t_x - 5) if ragged else t_x] * (b - 1))
    knobs = torch.tensor([spec.knob_defaults()] * b, dtype=torch.float32)  # [b, K]
    feeds: dict[str, dict[str, torch.Tensor]] = {"encode": {"ids": ids, "lengths": lengths, "knobs": knobs}}
    if spec.encode_noise:
        feeds["encode"]["noise"] = torch.zeros(b, spec.encode_noise.channels, t_x)
    if spec.multi_speaker:
        feeds["encode"]["sid"] = torch.zeros(b, dtype=torch.long)
    if spec.decoder is not None:
        return _autoregressive_inputs(model, feeds, lengths, knobs, t_y or 3 * t_x)
    with torch.no_grad():
        enc = calls["encode"](*feeds["encode"].values())
        frames = enc[2]
        if t_y is None:
            t_y = int(frames.max())
        else:
            frames = torch.full_like(frames, t_y)
        mask = (torch.arange(t_y).view(1, 1, -1) < frames.view(-1, 1, 1)).float()  # [b, 1, t_y]
        feeds["frames"] = {"tokens": enc[0], "durations": enc[1], "mask": mask, "knobs": knobs}
        if spec.frames_noise:
            feeds["frames"]["noise"] = torch.zeros(b, spec.frames_noise.channels, t_y)
        if spec.cond_channels:
            feeds["frames"]["g"] = enc[3]
        z = calls["frames"](*feeds["frames"].values())
    cond = {"g": enc[3]} if spec.cond_channels else {}
    feeds["vocode"] = {"z": z, "lengths": frames, **cond}
    feeds["vocode_full"] = {"z": z, **cond}
    return feeds


def _autoregressive_inputs(model: nn.Module, feeds: dict[str, dict[str, torch.Tensor]], lengths: torch.Tensor,
                           knobs: torch.Tensor, t_y: int) -> dict[str, dict[str, torch.Tensor]]:
    """`example_inputs` of a family with a decode stage: one block from the start, and random decoded
    frames for the frames stage (their values do not matter to a trace)."""
    spec, calls = model.spec, stage_calls(model)
    dec = spec.decoder
    assert dec is not None
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        out = calls["encode"](*feeds["encode"].values())
        enc = out if isinstance(out, tuple) else (out,)
        b, t_x = enc[0].shape[0], enc[0].shape[-1]
        feeds["decode"] = {
            "tokens": enc[0], "id_mask": (torch.arange(t_x).view(1, -1) < lengths.view(-1, 1)).float(),
            "state": torch.zeros(b, dec.state_channels), "attn": torch.zeros(b, dec.attn_channels, t_x),
            "live": torch.ones(b), "count": torch.zeros(b, dtype=torch.long), "knobs": knobs,
        }
        if dec.noise is not None:
            feeds["decode"]["noise"] = torch.randn(b, dec.noise.channels, dec.block, generator=gen)
        frames = torch.tensor([t_y] + [max(1, t_y - 5)] * (b - 1))
        mask = (torch.arange(t_y).view(1, 1, -1) < frames.view(-1, 1, 1)).float()  # [b, 1, t_y]
        feeds["frames"] = {"tokens": torch.randn(b, dec.frame_channels, t_y, generator=gen) * mask, "mask": mask,
                           "knobs": knobs}
        if spec.frames_noise:
            feeds["frames"]["noise"] = torch.randn(b, spec.frames_noise.channels, t_y, generator=gen) * mask
        if spec.cond_channels:
            feeds["frames"]["g"] = enc[1]
        z = calls["frames"](*feeds["frames"].values())
    cond = {"g": enc[1]} if spec.cond_channels else {}
    feeds["vocode"] = {"z": z, "lengths": frames, **cond}
    feeds["vocode_full"] = {"z": z, **cond}
    return feeds


def export_stages(model: nn.Module, directory: str | Path) -> dict[str, Path]:
    """Write `<graph>.onnx` for every graph of `model` (`runtimes.base.GRAPHS`) into `directory`; the
    vocoder graphs run 2-D convolutions (`layout.conv2d_copy`) where the family's vocoder allows it."""
    directory = Path(directory)
    model = model.to("cpu", torch.float32).eval()
    spec = model.spec
    calls = stage_calls(model)
    if spec.planar_vocoder:
        calls.update({k: v for k, v in stage_calls(model, unit_axis=True).items() if "vocode" in k})
    feeds = example_inputs(model)
    paths = {}
    for graph in graphs(spec):
        names, outputs = list(feeds[graph]), stage_outputs(spec, graph)
        assert names == calls[graph].names, (names, calls[graph].names)
        paths[graph] = export_onnx(
            calls[graph], tuple(feeds[graph].values()), directory / f"{graph}.onnx", names, outputs,
            {n: axes(n, graph, spec) for n in (*names, *outputs)}, opset=STAGE_OPSET,
        )
    return paths
