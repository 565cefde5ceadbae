"""The `sonorant` command line: speak | voices | bench."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .errors import SonorantError


def _add_synthesis_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--voice", default=None, help="bundled voice name (default: joe) or path to a Piper .onnx")
    p.add_argument("--length-scale", type=float, default=None, help="duration multiplier (>1 slower)")
    p.add_argument("--noise-scale", type=float, default=None, help="prior noise (voice default if unset)")
    p.add_argument("--noise-w", type=float, default=None, help="duration noise (voice default if unset)")
    p.add_argument("--speaker", default=None, help="speaker id or name (multi-speaker voices)")
    p.add_argument("--seed", type=int, default=None, help="noise seed for reproducible audio")
    p.add_argument("--sentence-silence", type=float, default=0.0, help="seconds of silence between sentences")
    from .bench.cli import PRECISION_CHOICES, RUNTIME_CHOICES

    p.add_argument("--runtime", default="eager", choices=RUNTIME_CHOICES,
                   help="how the model runs: eager PyTorch, torch.compile, ONNX Runtime, PyTorch/XLA or TensorRT "
                        "(default: eager)")
    p.add_argument("--precision", default="fp32", choices=PRECISION_CHOICES,
                   help="decoder precision: fp32 (default), or bf16/fp16 where the hardware computes them natively")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sonorant", description="Fast, exact text-to-speech.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True)

    speak = sub.add_parser("speak", help="synthesize text to an audio file")
    speak.add_argument("text", nargs="?", default="-", help="text to speak; '-' or absent reads standard input")
    speak.add_argument("-o", "--output", default=None,
                       help="output file (.wav, .flac, .pcm); '-' writes WAV to standard output")
    speak.add_argument("--ssml", action="store_true",
                       help="read TEXT as SSML (wrapped in <speak> if it is not already a document)")
    speak.add_argument("--show-text", action="store_true",
                       help="print each sentence's normalized text, phonemes and ids before speaking")
    speak.add_argument("--no-normalize", action="store_true",
                       help="pass text to espeak-ng as written (no number/date/abbreviation reading)")
    _add_synthesis_args(speak)

    voices = sub.add_parser("voices", help="list bundled voices and any given .onnx voices")
    voices.add_argument("paths", nargs="*", help="extra Piper .onnx voices to describe")

    from .bench.cli import add_bench_parser

    add_bench_parser(sub)

    from .serve.cli import add_serve_parser

    add_serve_parser(sub)

    from .export import add_export_parser

    add_export_parser(sub)
    return parser


def _speak(args: argparse.Namespace) -> int:
    from . import SynthesisConfig, load_voice

    text = sys.stdin.read() if args.text == "-" else args.text
    if args.ssml:
        from .text.ssml import is_ssml

        if not is_ssml(text):
            text = f"<speak>{text}</speak>"
    out = args.output
    if out is None:
        if sys.stdout.isatty():
            raise SonorantError("give an output file with -o FILE (or -o - to write WAV to a pipe)")
        out = "-"
    cfg = SynthesisConfig(length_scale=args.length_scale, noise_scale=args.noise_scale, noise_w=args.noise_w,
                          speaker=args.speaker, seed=args.seed, sentence_silence=args.sentence_silence,
                          normalize_text=not args.no_normalize)
    options = {"precision": args.precision} if args.precision != "fp32" else {}
    voice = load_voice(args.voice, runtime=args.runtime, runtime_options=options)
    if args.show_text:
        trace = voice.analyze(text, normalize=not args.no_normalize)
        print(trace, file=sys.stderr if out == "-" else sys.stdout)
    audio = voice.synthesize(text, cfg)
    if out == "-":
        sys.stdout.buffer.write(audio.to_bytes("wav"))
        sys.stdout.buffer.flush()
    else:
        path = audio.save(out)
        logging.getLogger("sonorant").info("wrote %s (%.2f s at %d Hz)", path, audio.duration, audio.sample_rate)
    return 0


def _voices(args: argparse.Namespace) -> int:
    from .voices.piper import read_piper_config
    from .voices.registry import bundled_voice_names, resolve_voice

    rows = [("name", "language", "quality", "sample rate", "speakers", "source")]
    entries = [(resolve_voice(n), "bundled") for n in bundled_voice_names()]
    entries += [(resolve_voice(p), str(Path(p))) for p in args.paths]
    for files, source in entries:
        cfg = read_piper_config(files.config)
        speakers = str(cfg.num_speakers)
        if cfg.speaker_id_map:
            names = sorted(cfg.speaker_id_map, key=cfg.speaker_id_map.get)
            speakers += " (" + ", ".join(names[:5]) + (", ..." if len(names) > 5 else "") + ")"
        rows.append((files.name, cfg.language or cfg.espeak_voice, cfg.quality or "?", str(cfg.sample_rate),
                     speakers, source if source == "bundled" else str(files.model)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `sonorant` command; returns the exit status."""
    args = _build_parser().parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose + 1, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "bench":
            from .bench.cli import run_bench_command

            return run_bench_command(args)
        if args.command == "export":
            from .export import run_export_command

            return run_export_command(args)
        if args.command == "serve":
            from .serve.cli import run_serve_command

            return run_serve_command(args)
        return {"speak": _speak, "voices": _voices}[args.command](args)
    except SonorantError as exc:
        print(f"sonorant: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
