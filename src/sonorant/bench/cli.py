"""`sonorant bench`: measure a voice (optionally beside Piper) and print/write the report.

    sonorant bench [--voice V] [--runtime R[,R...]] [--texts FILE] [--repeats N] [--warmup N]
                   [--compare piper] [--json PATH] [--csv PATH] [--plot PATH] [--markdown PATH]
                   [--threads N] [--seed N] [--quick]

`add_bench_parser(subparsers)` adds the sub-command to the `sonorant` parser; `run_bench_command(args)`
runs it and returns the exit status. The table goes to stdout, the progress bar to stderr. Several
runtimes (`--runtime eager,compile,onnx`) run interleaved in one process, one column each.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError

_LOG = logging.getLogger(__name__)

RUNTIME_CHOICES = ("auto", "eager", "compile", "onnx", "xla", "tensorrt")
""""auto" and `sonorant.runtimes.RUNTIMES`, spelled out so building the parser imports nothing heavy."""
PRECISION_CHOICES = ("fp32", "tf32", "bf16", "fp16")
"""`sonorant.runtimes.precision.PRECISIONS`, spelled out so building the parser does not import torch."""
QUICK_TEXTS = 5
"""Texts in a `--quick` run (which also measures a single repeat)."""


MODES = ("latency", "offline", "streams", "seed")
"""Values of `--mode`."""


def _positive_list(value: str) -> tuple[int, ...]:
    try:
        out = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        out = ()
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {value!r}")
    return out


def parse_runtimes(value: str) -> tuple[str, ...]:
    """`--runtime`'s value: one runtime name or several, comma-separated, each at most once."""
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    unknown = [n for n in names if n not in RUNTIME_CHOICES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"unknown runtime {', '.join(map(repr, unknown)) or repr(value)}: choose from {', '.join(RUNTIME_CHOICES)} "
            "(several: comma-separated)")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"runtime listed twice in {value!r}")
    return names


def add_bench_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `bench` to an argparse sub-parser set (`parser.add_subparsers()`); returns the new parser."""
    p = subparsers.add_parser(
        "bench", help="measure latency, throughput, RTF and time to first audio (optionally beside Piper)",
        description="Benchmark a voice: per-utterance latency percentiles, throughput, RTF, time to first audio, "
                    "frames, peak memory, stage split and GFLOP/s; --compare piper runs piper-tts interleaved.",
    )
    p.add_argument("--voice", default=None,
                   help="bundled voice name (default: joe), a Piper .onnx, or a NeMo FastPitch .nemo (with --vocoder)")
    p.add_argument("--vocoder", default=None,
                   help="vocoder of a spectrogram voice: a NeMo HiFi-GAN .nemo, or an NVIDIA WaveGlow checkpoint")
    p.add_argument("--denoise", type=float, default=None,
                   help="WaveGlow voices: the denoiser's strength (default 0.01)")
    p.add_argument("--speed", type=float, default=1.0, help="speaking rate for any voice (>1 faster; default 1)")
    p.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE",
                   help="set one of the voice family's controls (repeatable)")
    p.add_argument("--runtime", type=parse_runtimes, default=("auto",), metavar="R[,R...]",
                   help=f"how sonorant runs the model: {', '.join(RUNTIME_CHOICES)}; several, comma-separated, run "
                        "interleaved side by side (default: auto, the fastest for the device)")
    p.add_argument("--device", default="auto", metavar="D",
                   help="where sonorant runs: auto (default: a CUDA GPU if torch can use one, else the CPU), cpu, "
                        "cuda, cuda:N or xla")
    p.add_argument("--precision", choices=PRECISION_CHOICES, default="fp32",
                   help="decoder precision (default fp32; bf16/fp16 are fast only where the hardware has them)")
    p.add_argument("--texts", type=Path, default=None, metavar="FILE",
                   help="texts to speak, one per line (default: the built-in set of 22 sentences)")
    p.add_argument("--repeats", type=int, default=3, metavar="N", help="measured passes over the texts (default 3)")
    p.add_argument("--warmup", type=int, default=1, metavar="N", help="unmeasured passes first (default 1)")
    p.add_argument("--compare", choices=["piper"], default=None,
                   help="also run this peer on the same voice and texts, interleaved, and report ratios")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the full report as JSON")
    p.add_argument("--csv", type=Path, default=None, metavar="PATH", help="write one CSV row per backend")
    p.add_argument("--plot", type=Path, default=None, metavar="PATH",
                   help="write a PNG: latency distribution and RTF per backend (needs matplotlib)")
    p.add_argument("--markdown", type=Path, default=None, metavar="PATH",
                   help="write a Markdown table with date, machine and command (for a README)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="intra-op threads for torch and for the Piper peer's onnxruntime (default: their own defaults)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="noise seed of sonorant's synthesis (default 0)")
    p.add_argument("--quick", action="store_true", help=f"a smoke run: the first {QUICK_TEXTS} texts, 1 repeat")
    p.add_argument("--mode", choices=MODES, default="latency",
                   help="latency (default): per-call latency, throughput and first audio, optionally beside Piper; "
                        "offline: batch synthesis throughput per --batch-sizes (x real time, TFLOP/s, share of peak, "
                        "peak memory); streams: --streams concurrent streams through the server's scheduler; "
                        "seed: NVIDIA's Tacotron2 demo table (latency CIs, samples/s, mels, RTF) per --batch-sizes "
                        "and runtime")
    p.add_argument("--batch-sizes", type=_positive_list, default=(1, 16, 64, 256), metavar="N[,N...]",
                   help="offline mode: batch sizes (default 1,16,64,256)")
    p.add_argument("--utterances", type=int, default=512, metavar="N",
                   help="offline mode: utterances per pass, cycling through the texts' sentences (default 512)")
    p.add_argument("--streams", type=_positive_list, default=(1, 8, 64), metavar="N[,N...]",
                   help="streams mode: numbers of concurrent streams (default 1,8,64)")
    p.add_argument("--input-length", type=int, default=128, metavar="N",
                   help="seed mode: characters of text per utterance (default 128, as NVIDIA's Tacotron2 demo)")
    p.add_argument("--decode-blocks", type=_positive_list, default=None, metavar="N[,N...]",
                   help="seed mode, autoregressive voices: decoder steps per call to compare (1 = a per-step loop "
                        "with a host read every step; default: the voice's own)")
    p.set_defaults(func=run_bench_command)
    return p


def command_line(args: argparse.Namespace) -> str:
    """The `sonorant bench ...` command that reproduces `args` (defaults left out)."""
    parts = ["sonorant", "bench"]
    options: Sequence[tuple[str, Any, Any]] = (
        ("--voice", args.voice, None), ("--vocoder", args.vocoder, None), ("--denoise", args.denoise, None),
        ("--speed", args.speed, 1.0),
        ("--runtime", ",".join(args.runtime), "auto"),
        ("--device", args.device, "auto"),
        ("--precision", args.precision, "fp32"), ("--texts", args.texts, None),
        ("--repeats", args.repeats, 3),
        ("--warmup", args.warmup, 1), ("--compare", args.compare, None), ("--threads", args.threads, None),
        ("--seed", args.seed, 0), ("--json", args.json, None), ("--csv", args.csv, None),
        ("--plot", args.plot, None), ("--markdown", args.markdown, None),
        ("--mode", args.mode, "latency"),
    )
    for flag, value, default in options:
        if value is not None and value != default:
            parts += [flag, str(value)]
    if args.mode == "offline":
        parts += ["--batch-sizes", ",".join(map(str, args.batch_sizes)), "--utterances", str(args.utterances)]
    if args.mode == "seed":
        parts += ["--batch-sizes", ",".join(map(str, args.batch_sizes)), "--input-length", str(args.input_length)]
        if args.decode_blocks:
            parts += ["--decode-blocks", ",".join(map(str, args.decode_blocks))]
    if args.mode == "streams":
        parts += ["--streams", ",".join(map(str, args.streams))]
    for knob in args.knob or []:
        parts += ["--knob", knob]
    if args.quick:
        parts.append("--quick")
    return " ".join(shlex.quote(p) for p in parts)


def _check(args: argparse.Namespace) -> None:
    if args.repeats < 1:
        raise ConfigError(f"--repeats must be at least 1, got {args.repeats}")
    several = len(args.runtime) > 1 and args.mode != "seed"  # the seed table has a row per runtime
    if args.mode != "latency" and (several or args.compare or args.csv or args.plot or args.markdown):
        raise ConfigError(f"--mode {args.mode} measures one runtime and writes --json only "
                          "(--compare, --csv, --plot and --markdown belong to the latency mode)")
    if args.decode_blocks and args.mode != "seed":
        raise ConfigError("--decode-blocks belongs to --mode seed")
    if args.utterances < 1:
        raise ConfigError(f"--utterances must be at least 1, got {args.utterances}")
    if args.warmup < 0:
        raise ConfigError(f"--warmup must be 0 or more, got {args.warmup}")
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {args.threads}")
    if args.seed < 0:
        raise ConfigError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.plot is not None:
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            raise ConfigError("--plot needs matplotlib (pip install matplotlib, or the bench extra)")
    for flag in ("json", "csv", "plot", "markdown"):
        path = getattr(args, flag)
        if path is not None and not Path(path).expanduser().parent.is_dir():
            raise ConfigError(f"--{flag} {path}: directory {Path(path).expanduser().parent} does not exist")


def _progress_bar(total: int) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="bench", unit="call", file=sys.stderr, dynamic_ncols=True, leave=False)


def run_bench_command(args: argparse.Namespace) -> int:
    """Run `sonorant bench` for parsed `args`: measure, print the table to stdout, write the files asked for."""
    from .. import SynthesisConfig, load_voice
    from .report import BenchReport, markdown_table, print_table
    from .runner import SonorantBackend, compare_ratios, planned_steps, run_backends
    from .texts import DEFAULT_TEXTS, PARAGRAPH, load_texts

    _check(args)
    texts = load_texts(args.texts) if args.texts is not None else list(DEFAULT_TEXTS)
    repeats = args.repeats
    if args.quick:
        texts, repeats = texts[:QUICK_TEXTS], 1
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)

    from ..speak import knobs_from_args

    cfg = SynthesisConfig(seed=args.seed, knobs=knobs_from_args(args), speed=args.speed)
    options = {"precision": args.precision} if args.precision != "fp32" else {}
    _refuse_token_voices(args.voice)
    if args.mode == "seed":
        return _run_seed(args, cfg, options)
    if args.mode != "latency":
        return _run_mode(args, texts, cfg, options)
    backends: list[Any] = []
    for name in args.runtime:
        voice = load_voice(args.voice, vocoder=args.vocoder, denoise=args.denoise, device=args.device, runtime=name,
                           runtime_options=options, warmup=True)
        runtime = getattr(voice.engine.runtime, "name", "eager")
        label = f"sonorant-{runtime}" + (f"-{args.precision}" if options else "")
        backends.append(SonorantBackend(voice, cfg, label))
    voice = backends[0].voice
    n_sonorant = len(backends)
    if args.compare == "piper":
        from ..voices.piper_loader import config_path
        from .peers import PiperPeer

        if voice.family != "vits" or voice.path is None or voice.path.suffix != ".onnx":
            raise ConfigError("--compare piper needs a Piper voice (piper-tts runs Piper .onnx voices only)")
        backends.append(PiperPeer(voice.path, config_path(voice.path), threads=args.threads))

    total = planned_steps(len(backends), len(texts), warmup=args.warmup, repeats=repeats)
    bar = _progress_bar(total)
    try:
        results = run_backends(backends, texts, warmup=args.warmup, repeats=repeats, paragraph=PARAGRAPH,
                               flop_voice=voice, flop_cfg=cfg, progress=bar.update if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()

    peer = results[n_sonorant] if len(results) > n_sonorant else None
    by_backend = {r.backend: compare_ratios(r, peer) for r in results[:n_sonorant]} if peer is not None else None
    settings = {
        "voice": voice.name, "family": voice.family, "runtime": ",".join(args.runtime), "device": voice.device, "precision": args.precision, "texts": str(args.texts) if args.texts else "built-in",
        "n_texts": len(texts), "repeats": repeats, "warmup": args.warmup, "seed": args.seed, "threads": args.threads,
        "paragraph_words": len(PARAGRAPH.split()), "quick": bool(args.quick),
    }
    report = BenchReport(tuple(results), by_backend[results[0].backend] if by_backend else None, command_line(args),
                         settings, by_backend if by_backend and len(by_backend) > 1 else None)
    print_table(report)
    if args.json is not None:
        _LOG.info("wrote %s", report.write_json(args.json))
    if args.csv is not None:
        _LOG.info("wrote %s", report.write_csv(args.csv))
    if args.plot is not None:
        _LOG.info("wrote %s", report.plot_png(args.plot))
    if args.markdown is not None:
        Path(args.markdown).write_text(markdown_table(report), encoding="utf-8")
        _LOG.info("wrote %s", args.markdown)
    return 0


def _run_mode(args: argparse.Namespace, texts: list[str], cfg: Any, options: dict[str, Any]) -> int:
    """`--mode offline` / `--mode streams`: one runtime, a table on stdout and optionally --json."""
    import json

    from .. import load_voice
    from .modes import concurrent_streams, format_modes, mode_report, offline_throughput

    voice = load_voice(args.voice, vocoder=args.vocoder, denoise=args.denoise, device=args.device,
                       runtime=args.runtime[0],
                       runtime_options=options)
    offline, streams = [], []
    if args.mode == "offline":
        offline = offline_throughput(voice, texts, args.batch_sizes, utterances=args.utterances,
                                     repeats=args.repeats, cfg=cfg)
    else:
        streams = [concurrent_streams(voice, texts, n, cfg=cfg) for n in args.streams]
    report = mode_report(voice, offline, streams, command_line(args))
    print(format_modes(report))
    if args.json is not None:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        _LOG.info("wrote %s", args.json)
    return 0


def _run_seed(args: argparse.Namespace, cfg: Any, options: dict[str, Any]) -> int:
    """`--mode seed`: NVIDIA's demo table, a row per runtime (and decode block) and batch size."""
    import json

    from .. import load_voice
    from .seed_table import format_seed_table, seed_report, seed_rows, with_speedups

    if args.input_length < 1:
        raise ConfigError(f"--input-length must be positive, got {args.input_length}")
    rows, voice = [], None
    for name in args.runtime:
        for block in args.decode_blocks or (None,):
            extra = {"block": block} if block is not None else None
            voice = load_voice(args.voice, vocoder=args.vocoder, denoise=args.denoise, device=args.device,
                               runtime=name, runtime_options=options, warmup=True, voice_options=extra)
            label = f"sonorant-{voice.runtime.name}" + (f" block {block}" if block is not None else "")
            rows += seed_rows(voice, args.batch_sizes, input_length=args.input_length, iterations=args.repeats,
                              warmup=max(args.warmup, 3), cfg=cfg, framework=label)
    rows = with_speedups(rows)
    print(format_seed_table(rows))
    if args.json is not None and voice is not None:
        Path(args.json).write_text(json.dumps(seed_report(rows, voice, command_line(args)), indent=2) + "\n",
                                   encoding="utf-8")
    return 0


def _refuse_token_voices(voice: str | None) -> None:
    """A clear error for a token voice: this bench times stage-graph families (tools/bench_tokens.py times
    token decoding)."""
    from ..voices.registry import loader, locate

    if getattr(loader(locate(voice)[0]), "TOKEN_VOICES", False):
        raise ConfigError(f"{voice} is a token voice: `sonorant bench` times stage-graph families; time token "
                          "decoding with tools/bench_tokens.py (--checkpoint or --voice)")
