"""`sonorant export`: write a voice as ONNX, either as sonorant's stage graphs or as a Piper voice.

    sonorant export --format stages [--voice V] -o DIR [--static] [--id-edges 32,64,...]
                    [--frame-edges 64,128,...] [--batch-sizes 1,4] [--window-sizes 58,74]
    sonorant export --format piper [--voice V] -o VOICE.onnx
    sonorant export --format NAME [--voice V] -o DIR      (a format the voice's model offers)

`--format stages` writes the encode / frames / vocode graphs that sonorant's ONNX Runtime and TensorRT
runtimes run, for any family: by default one graph per stage with dynamic batch / id / frame axes;
with `--static`, one graph per bucket, each with fixed shapes (encode per batch size x id bucket;
frames and vocode per batch size x frame bucket, frames keeping its id axis dynamic since only the
path matrix sees it; vocode also per streaming window size at batch 1). A `manifest.json` lists every
file with its inputs, outputs and shapes.

`--format piper` (VITS voices only) writes `VOICE.onnx` + `VOICE.onnx.json` with Piper's inputs and outputs, which
piper-tts (and anything else that runs Piper voices) loads as one of its own; the voice's own
`.onnx.json` fields (phoneme map, espeak voice, speakers, inference defaults) are carried over.

Any other `--format NAME` is one the loaded model offers through an optional `extra_exports()` method
(format name -> a writer into a directory; e.g. a Tacotron2 voice's "nvidia" and "loop"); a model without
that format is refused with the formats it has.

Nothing is overwritten unless `--force` is given: an existing target file, or a stage directory that is
not empty, is refused. Everything is written under a hidden temporary name beside the target and renamed
into place only when complete, so an interrupted export leaves no half-written voice behind.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from torch import nn

_LOG = logging.getLogger(__name__)
FORMATS = ("stages", "piper")
"""Values of `--format` every voice is asked about (others come from the model's `extra_exports()`)."""
STAGES_FORMAT = "sonorant-stages-1"
"""`format` field of a stage export's manifest.json."""


def _edges(text: str | None, name: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(sorted({int(v) for v in text.split(",") if v.strip()}))
    except ValueError:
        raise ConfigError(f"{name} takes comma-separated positive integers, got {text!r}") from None
    if not values or values[0] < 1:
        raise ConfigError(f"{name} takes comma-separated positive integers, got {text!r}")
    return values


def add_export_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `export` to an argparse sub-parser set; returns the new parser."""
    p = subparsers.add_parser(
        "export", help="write a voice as ONNX: sonorant's stage graphs, or a Piper-compatible voice",
        description="Export a voice to ONNX. --format stages writes sonorant's encode/latent/vocode graphs "
                    "(dynamic axes, or one per bucket with --static) into a directory; --format piper writes a "
                    ".onnx + .onnx.json that piper-tts loads.",
    )
    p.add_argument("--voice", default=None, help="bundled voice name (default: joe), a Piper .onnx or a NeMo .nemo")
    p.add_argument("--vocoder", default=None,
                   help="the vocoder of a spectrogram voice (NeMo HiFi-GAN .nemo, NVIDIA WaveGlow checkpoint)")
    p.add_argument("--denoise", type=float, default=None, help="WaveGlow voices: the denoiser's strength")
    p.add_argument("--format", default="stages",
                   help="what to write: stages (default), piper, or a format the voice's model offers "
                        "(e.g. nvidia, loop for a Tacotron2 voice)")
    p.add_argument("-o", "--output", required=True,
                   help="stages and model formats: a directory; piper: the .onnx path (or a directory to write "
                        "<voice>.onnx in)")
    p.add_argument("--static", action="store_true", help="stages: one fixed-shape graph per bucket")
    p.add_argument("--id-edges", default=None, help="stages --static: id bucket edges (default: BucketConfig's)")
    p.add_argument("--frame-edges", default=None, help="stages --static: frame bucket edges (default: BucketConfig's)")
    p.add_argument("--batch-sizes", default="1", help="stages --static: batch sizes (default: 1)")
    p.add_argument("--window-sizes", default=None,
                   help="stages --static: streaming decoder window sizes (default: those of the default StreamConfig)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default: 17 for stages, 15 for piper)")
    p.add_argument("--force", action="store_true", help="replace an existing output (default: refuse)")
    return p


def _staging(target: Path) -> Path:
    """A fresh hidden directory beside `target` to write into before renaming."""
    path = target.parent / f".{target.name}.partial-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def run_export_command(args: argparse.Namespace) -> int:
    """Run `sonorant export` for parsed `args`; returns the exit status."""
    from .voices.registry import cli_options, load

    loaded = load(args.voice, **cli_options(args))
    out = Path(args.output).expanduser()
    force = bool(getattr(args, "force", False))
    if args.format == "piper":
        if loaded.card.family != "vits" or loaded.path is None or loaded.path.suffix != ".onnx":
            raise ConfigError("--format piper writes Piper (VITS) voices only; export other families with "
                              "--format stages")
        if args.static or args.id_edges or args.frame_edges or args.window_sizes:
            raise ConfigError("--static and the bucket options apply to --format stages only")
        target = out / f"{loaded.card.name}.onnx" if out.is_dir() or not out.suffix else out
        if target.suffix != ".onnx":
            raise ConfigError(f"a Piper voice is written to a .onnx path, got {target}")
        side = target.with_name(target.name + ".json")
        for path in (target, side):
            if path.is_dir():
                raise ConfigError(f"{path} is a directory")
            if path.exists() and not force:
                raise ConfigError(f"{path} already exists: give --force to replace it")
        if not target.parent.is_dir():
            raise ConfigError(f"directory {target.parent} does not exist")
        config = json.loads(loaded.path.with_name(loaded.path.name + ".json").read_text(encoding="utf-8"))
        staging = _staging(target)
        try:
            written = export_piper(loaded.source.get(), staging / target.name, config, opset=args.opset or 15)
            os.replace(written.with_name(written.name + ".json"), side)
            os.replace(written, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _LOG.info("wrote %s and %s", target, side.name)
        return 0
    if args.format != "stages":
        if args.static or args.id_edges or args.frame_edges or args.window_sizes or args.opset:
            raise ConfigError("--static, --opset and the bucket options apply to --format stages and piper only")
        import torch

        model = loaded.source.get().to("cpu", torch.float32)
        writers = _model_formats(model)
        if args.format not in writers:
            offered = ", ".join([*FORMATS, *sorted(writers)])
            raise ConfigError(f"--format {args.format} is not offered by voice {loaded.card.name!r} "
                              f"({loaded.card.family}): its formats are {offered}")
        _check_directory(out, args.format, force)
        staging = _staging(out)
        try:
            written = writers[args.format](staging)
            if out.exists():
                shutil.rmtree(out)
            os.replace(staging, out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _LOG.info("wrote %s to %s", ", ".join(p.name for p in written), out)
        return 0
    _check_directory(out, "stages", force)
    from .engine.buckets import BucketConfig

    default = BucketConfig()
    buckets = BucketConfig(id_edges=_edges(args.id_edges, "--id-edges") or default.id_edges,
                           frame_edges=_edges(args.frame_edges, "--frame-edges") or default.frame_edges)
    batch_sizes = _edges(args.batch_sizes, "--batch-sizes") or (1,)
    window_sizes = _edges(args.window_sizes, "--window-sizes")
    staging = _staging(out)
    try:
        manifest = export_stage_graphs(
            loaded.source.get(), staging, static=args.static, buckets=buckets, batch_sizes=batch_sizes,
            window_sizes=window_sizes, opset=args.opset or 17, sample_rate=loaded.card.sample_rate,
        )
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _LOG.info("wrote %d graphs and manifest.json to %s", len(manifest["graphs"]), out)
    return 0


def _check_directory(out: Path, fmt: str, force: bool) -> None:
    """Refuse a target directory that is a file, is not empty (without `force`) or has no parent."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--format {fmt} writes a directory, and {out} is a file")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ConfigError(f"{out} is not empty: give --force to replace what is in it, or choose a new directory")
    if not out.parent.is_dir():
        raise ConfigError(f"directory {out.parent} does not exist")


def _model_formats(model: Any) -> dict[str, Any]:
    """The export formats `model` offers beyond stages and piper (its `extra_exports()`, if it has one)."""
    offer = getattr(model, "extra_exports", None)
    return dict(offer()) if callable(offer) else {}


def export_piper(model: nn.Module, path: str | Path, config: dict[str, Any] | None = None, *, opset: int = 15) -> Path:
    """Write `model` (a VITS model) as a Piper voice (`path` + `path`.json); `config` is a Piper `.onnx.json`
    to carry over."""
    from .voices.piper_export import export_piper_voice

    return export_piper_voice(model, path, config, opset=opset)


def export_stage_graphs(
    model: nn.Module,
    directory: str | Path,
    *,
    static: bool = False,
    buckets: Any = None,
    batch_sizes: Sequence[int] = (1,),
    window_sizes: Sequence[int] | None = None,
    opset: int = 17,
    sample_rate: int | None = None,
) -> dict[str, Any]:
    """Write the stage graphs of `model` into `directory` with a manifest.json, and return the manifest.

    Dynamic (default): encode.onnx, frames.onnx, vocode.onnx (+ vocode_full.onnx, the unmasked vocoder
    for windows without padding), as the ONNX Runtime runtime uses them. Static: one graph per bucket.
    """
    import torch

    from .engine.buckets import BucketConfig
    from .runtimes.cache import atomic_write_text
    from .runtimes.onnx_export import export_stages, model_key

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model = model.to("cpu", torch.float32).eval()
    spec = model.spec
    if static:
        buckets = buckets or BucketConfig()
        if window_sizes is None:
            from .runtimes.tensorrt import default_window_sizes

            window_sizes = default_window_sizes(spec, buckets)
        graphs = _export_static(model, directory, buckets, batch_sizes, window_sizes, opset)
    else:
        paths = export_stages(model, directory)
        graphs = [_describe(path, stage, None) for stage, path in paths.items()]
    manifest = {
        "format": STAGES_FORMAT, "static": static, "model_key": model_key(model), "opset": opset,
        "sample_rate": sample_rate or spec.sample_rate, "spec": spec.to_dict(), "graphs": graphs,
    }
    manifest = json.loads(json.dumps(manifest))  # exactly what the file holds (tuples become lists)
    atomic_write_text(directory / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    _LOG.info("exported %d stage graphs to %s", len(graphs), directory)
    return manifest


def _describe(path: Path, stage: str, bucket: dict[str, int] | None) -> dict[str, Any]:
    """A manifest entry: file, stage, bucket, and each input/output with its shape (names for dynamic axes)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph

    def dims(value: Any) -> list[int | str]:
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]

    return {"file": path.name, "stage": stage, "bucket": bucket,
            "inputs": {i.name: dims(i) for i in graph.input}, "outputs": {o.name: dims(o) for o in graph.output}}


def _export_static(model: nn.Module, directory: Path, buckets: Any, batch_sizes: Sequence[int],
                   window_sizes: Sequence[int], opset: int) -> list[dict[str, Any]]:
    from .runtimes.base import stage_outputs
    from .runtimes.onnx_export import example_inputs, export_onnx
    from .runtimes.stage_modules import stage_calls

    spec, calls = model.spec, stage_calls(model, unit_axis=False)
    graphs: list[dict[str, Any]] = []

    def write(graph: str, feeds: dict[str, Any], name: str, bucket: dict[str, Any], dynamic: dict) -> None:
        path = export_onnx(calls[graph], tuple(feeds.values()), directory / name, list(feeds),
                           stage_outputs(spec, graph), dynamic, opset=opset)
        graphs.append(_describe(path, graph, bucket))

    for b in sorted(set(batch_sizes)):
        for t_x in buckets.id_edges:
            feeds = example_inputs(model, b, t_x, ragged=False)
            write("encode", feeds["encode"], f"encode_b{b}_x{t_x}.onnx", {"batch": b, "ids": t_x}, {})
        for t_y in buckets.frame_edges:
            feeds = example_inputs(model, b, buckets.id_edges[0], t_y, ragged=False)
            write("frames", feeds["frames"], f"frames_b{b}_y{t_y}.onnx", {"batch": b, "frames": t_y},
                  {"tokens": {2: "ids"}, "durations": {1: "ids"}})
            write("vocode", feeds["vocode"], f"vocode_b{b}_y{t_y}.onnx", {"batch": b, "frames": t_y}, {})
    for size in sorted(set(window_sizes)):
        feeds = example_inputs(model, 1, buckets.id_edges[0], size, ragged=False)
        write("vocode", feeds["vocode"], f"vocode_b1_w{size}.onnx", {"batch": 1, "frames": size, "window": True}, {})
    return graphs
