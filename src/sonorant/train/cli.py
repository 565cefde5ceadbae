"""`sonorant train` and `sonorant pseudo-label` (imports nothing heavy until a command runs)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ..errors import ConfigError

_LOG = logging.getLogger(__name__)

_TRAIN_HELP = """Train a token model (text -> codec tokens, or tokens -> text for back-translation) from a
YAML or TOML config; --print-schema shows every key. The run directory (train.output_dir) gets checkpoints,
metrics.jsonl and loss.png. An existing run there is continued with --resume (exactly: the same weights as
a run that never stopped) or replaced with --force. Ctrl-C stops after the current step and checkpoints."""

_LABEL_HELP = """Pseudo-label (back-translate) a manifest of speech tokens without text: a tokens -> text model
trained with `sonorant train` (data.direction = tokens_to_text) generates the text of every line (greedy),
and the lines are written with it to a new manifest, for data.extra_manifests of a text -> tokens run."""


def add_train_parser(sub: argparse._SubParsersAction) -> None:
    """Register the `train` and `pseudo-label` subcommands."""
    p = sub.add_parser("train", help="train a token model from a YAML/TOML config", description=_TRAIN_HELP)
    p.add_argument("config", nargs="?", help="the training config (.yaml, .yml or .toml)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in train.output_dir from its last checkpoint")
    p.add_argument("--force", action="store_true", help="delete the run in train.output_dir and start over")
    p.add_argument("--stop-at", type=int, default=None, metavar="STEP",
                   help="stop after this step with a checkpoint (continue later with --resume)")
    p.add_argument("--print-schema", action="store_true", help="print the documented config schema and exit")

    q = sub.add_parser("pseudo-label", help="label speech tokens with text from a tokens -> text checkpoint",
                       description=_LABEL_HELP)
    q.add_argument("checkpoint", help="a `sonorant train` checkpoint of a tokens -> text model")
    q.add_argument("manifest", help="JSONL manifest with tokens, tokens_path or audio on each line")
    q.add_argument("-o", "--output", required=True, help="the manifest to write")
    q.add_argument("--max-len", type=int, default=512, help="most text ids generated per line (default 512)")
    q.add_argument("--batch-size", type=int, default=16, help="lines generated together (default 16)")
    q.add_argument("--skip-failed", action="store_true",
                   help="leave out lines whose generation never ends or is empty (default: an error)")
    q.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    q.add_argument("--force", action="store_true", help="replace the output manifest if it exists")

    e = sub.add_parser("train-export", help="export a 'tokens' training checkpoint as a token voice directory",
                       description="Write a `sonorant train` checkpoint of model kind 'tokens' as a token voice "
                       "(voice.json, model.safetensors and a copy of its codec) that sonorant.load_voice and "
                       "`sonorant speak --voice DIR` read.")
    e.add_argument("checkpoint", help="a `sonorant train` checkpoint (.pt) of kind 'tokens'")
    e.add_argument("-o", "--output", required=True, help="the voice directory to write")
    e.add_argument("--name", default=None, help="the voice's name (default: the directory's)")
    e.add_argument("--force", action="store_true", help="write into a non-empty directory")


def run_train_command(args: argparse.Namespace) -> int:
    """`sonorant train`."""
    from .config import load_config, schema_text

    if args.print_schema:
        sys.stdout.write(schema_text())
        return 0
    if args.config is None:
        raise ConfigError("sonorant train needs a config file (or --print-schema)")
    if args.stop_at is not None and args.stop_at < 1:
        raise ConfigError(f"--stop-at must be >= 1, got {args.stop_at}")
    config = load_config(args.config)
    from .trainer import Trainer

    result = Trainer(config, resume=args.resume, force=args.force).run(stop_at=args.stop_at)
    state = "stopped" if result.interrupted else "finished"
    valid = f", validation loss {result.valid_loss:.4f}" if result.valid_loss is not None else ""
    print(f"{state} at step {result.step}{valid}; checkpoint {result.checkpoint}")
    return 0


def run_pseudo_label_command(args: argparse.Namespace) -> int:
    """`sonorant pseudo-label`."""
    if args.max_len < 1 or args.batch_size < 1:
        raise ConfigError("--max-len and --batch-size must be >= 1")
    from .checkpoint import load_checkpoint
    from .data import CODECS
    from .frontends import FRONTENDS
    from .generate import reference_generator
    from .models import build_model, model_kind
    from .optim import train_device
    from .pseudo import pseudo_label

    path = Path(args.checkpoint)
    state = load_checkpoint(path)
    config = state["config"]
    data = config["data"]
    if data["direction"] != "tokens_to_text":
        raise ConfigError(f"{path}: the model maps {data['direction'].replace('_', ' ')}; pseudo-labelling needs a "
                          f"tokens -> text model (data.direction = tokens_to_text)")
    if data["frontend"] not in FRONTENDS:
        raise ConfigError(f"{path}: the model's front end {data['frontend']!r} is not registered here")
    kind = config["model"]["kind"]
    device = train_device(args.device)
    model = build_model(kind, config["model"]["options"])
    model.load_state_dict(state["model"])
    model.to(device).eval()
    made = model_kind(kind).generator
    generate = made(model, args.max_len) if made is not None else reference_generator(model, args.max_len, device)
    codec = None
    if data.get("codec"):
        codec_kind = data["codec"]["kind"]
        if codec_kind not in CODECS:
            raise ConfigError(f"{path}: the model's codec {codec_kind!r} is not registered here")
        codec = CODECS[codec_kind](data["codec"]["options"])
    report = pseudo_label(Path(args.manifest), Path(args.output), generate, FRONTENDS[data["frontend"]],
                          batch_size=args.batch_size, codec=codec, max_audio_seconds=data["max_audio_seconds"],
                          skip_failed=args.skip_failed, force=args.force)
    left_out = f" ({report.skipped} left out)" if report.skipped else ""
    print(f"wrote {report.written} lines to {report.output}{left_out}")
    return 0


def run_train_export_command(args: argparse.Namespace) -> int:
    """`sonorant train-export`."""
    from pathlib import Path

    from .token_eval import export_run

    out = export_run(Path(args.checkpoint), Path(args.output), name=args.name, force=args.force)
    print(f"wrote the token voice {out}")
    return 0
