"""The `sonorant` command line: speak | voices | bench | serve | export | train | train-export | pseudo-label."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .errors import SonorantError

_SPEAK_HELP = """Speak text into an audio file, or onto standard output as it is synthesized.

The format follows the output's suffix: .wav, .flac, .mp3, .ogg (Vorbis), .opus, .pcm/.raw (16-bit
little-endian). '-o -' streams WAV to standard output (--output-raw: raw PCM) sentence by sentence.
An existing file is replaced only with --force. Piper's -m/--model, -f/--output-file, -i/--input-file
and --output-raw are accepted too."""


def _add_synthesis_args(p: argparse.ArgumentParser) -> None:
    from .bench.cli import PRECISION_CHOICES, RUNTIME_CHOICES

    p.add_argument("--voice", "-m", "--model", dest="voice", default=None,
                   help="bundled voice name (default: joe), a Piper .onnx, a NeMo FastPitch .nemo or an NVIDIA "
                        "Tacotron2 checkpoint (both with --vocoder), a toktts directory or a token voice (with "
                        "--codec where it has none of its own)")
    p.add_argument("--vocoder", default=None,
                   help="vocoder of a spectrogram voice: a NeMo HiFi-GAN .nemo, or an NVIDIA WaveGlow checkpoint")
    p.add_argument("--denoise", type=float, default=None,
                   help="WaveGlow voices: strength of the bias-removal denoiser (default 0.01, as NVIDIA's "
                        "scripts; 0: off)")
    p.add_argument("--codec", default=None,
                   help="token voices: the codec their tokens decode with (Meta's Encodec .th, a transformers "
                        "Encodec directory, or a unit codec .npz)")
    p.add_argument("--decoding", default="greedy", choices=("greedy", "sample", "beam", "speculative"),
                   help="token voices: how tokens are chosen (default greedy)")
    p.add_argument("--beams", type=int, default=4, help="token voices: beam width for --decoding beam (default 4)")
    p.add_argument("--top-k", type=int, default=0, help="token voices: sample among the k likeliest (0: all)")
    p.add_argument("--top-p", type=float, default=1.0, help="token voices: nucleus sampling mass (1: all)")
    p.add_argument("--temperature", type=float, default=1.0,
                   help="token voices: sampling temperature for sample/speculative (default 1; 0: greedy)")
    p.add_argument("--max-tokens", type=int, default=None,
                   help="token voices: most tokens per sentence (default: the voice's bound); more is an error")
    p.add_argument("--draft", type=int, default=5,
                   help="token voices: tokens drafted per verification for --decoding speculative (default 5)")
    p.add_argument("--speed", type=float, default=1.0, help="speaking rate for any voice (>1 faster; default 1)")
    p.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE",
                   help="set one of the voice family's controls (repeatable; `sonorant voices` lists them): "
                        "VITS length_scale, noise_scale, noise_w; FastPitch pace, pitch_shift, pitch_scale; "
                        "Tacotron2 gate_threshold, sigma")
    p.add_argument("--length-scale", type=float, default=None, help="VITS: duration multiplier (>1 slower)")
    p.add_argument("--noise-scale", type=float, default=None, help="VITS: prior noise (voice default if unset)")
    p.add_argument("--noise-w", type=float, default=None, help="VITS: duration noise (voice default if unset)")
    p.add_argument("--speaker", default=None, help="speaker id or name (multi-speaker voices)")
    p.add_argument("--seed", type=int, default=None, help="noise seed for reproducible audio")
    p.add_argument("--sentence-silence", type=float, default=0.0, help="seconds of silence between sentences")
    p.add_argument("--volume", type=float, default=1.0, help="gain on the samples (default 1.0)")
    p.add_argument("--normalize-audio", action="store_true",
                   help="scale each sentence to full scale before --volume, as Piper does by default")
    p.add_argument("--device", default="auto",
                   help="where the model runs: auto (default: a CUDA GPU if torch can use one, else the CPU), cpu, "
                        "cuda, cuda:N or xla")
    p.add_argument("--runtime", default="auto", choices=RUNTIME_CHOICES,
                   help="how the model runs: auto (default: the fastest for the device), eager PyTorch, "
                        "torch.compile, ONNX Runtime, PyTorch/XLA or TensorRT")
    p.add_argument("--precision", default="fp32", choices=PRECISION_CHOICES,
                   help="decoder precision: fp32 (default), or tf32/bf16/fp16 where the hardware has them")


def _build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="sonorant", description="Fast, exact text-to-speech.")
    parser.add_argument("--version", action="version", version=f"sonorant {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more logging: -v progress and results, -vv debug")
    sub = parser.add_subparsers(dest="command", required=True)

    speak = sub.add_parser("speak", help="synthesize text to an audio file or to standard output",
                           description=_SPEAK_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    speak.add_argument("text", nargs="?", default="-", help="text to speak; '-' or absent reads standard input")
    speak.add_argument("-o", "-f", "--output", "--output-file", dest="output", default=None,
                       help="output file (.wav, .flac, .mp3, .ogg, .opus, .pcm); '-' streams WAV to standard output")
    speak.add_argument("-i", "--input-file", default=None, help="read the text from this UTF-8 file")
    speak.add_argument("--output-raw", action="store_true",
                       help="stream raw 16-bit PCM to standard output as it is synthesized")
    speak.add_argument("--force", action="store_true", help="replace the output file if it exists")
    speak.add_argument("--ssml", action="store_true",
                       help="read TEXT as SSML (wrapped in <speak> if it is not already a document)")
    speak.add_argument("--show-text", action="store_true",
                       help="print each sentence's normalized text, phonemes and ids before speaking")
    speak.add_argument("--no-text-normalize", action="store_true",
                       help="pass text to espeak-ng as written (no number/date/abbreviation reading)")
    speak.add_argument("--no-normalize", dest="no_normalize_ambiguous", action="store_true", help=argparse.SUPPRESS)
    _add_synthesis_args(speak)

    voices = sub.add_parser("voices", help="list bundled voices and any voice files given",
                            description="List the bundled voices (and any voice files given) with their family, "
                                        "language, quality, sample rate and speakers.")
    voices.add_argument("paths", nargs="*", help="extra voices to describe (Piper .onnx, NeMo FastPitch .nemo)")
    voices.add_argument("--vocoder", default=None, help="the vocoder of the spectrogram voices given")

    from .bench.cli import add_bench_parser

    add_bench_parser(sub)

    from .serve.cli import add_serve_parser

    add_serve_parser(sub)

    from .export import add_export_parser

    add_export_parser(sub)

    from .train.cli import add_train_parser

    add_train_parser(sub)
    return parser


def _voices(args: argparse.Namespace) -> int:
    from .voices.registry import bundled_voice_names, cli_options, load, options_for

    rows = [("name", "family", "language", "quality", "sample rate", "speakers", "source")]
    entries = [(load(n), "bundled") for n in bundled_voice_names()]
    entries += [(load(p, **options_for(p, cli_options(args))), str(Path(p))) for p in args.paths]
    for loaded, source in entries:
        card = loaded.card
        speakers = str(card.num_speakers)
        if card.speakers:
            names = sorted(card.speakers, key=card.speakers.get)
            speakers += " (" + ", ".join(names[:5]) + (", ..." if len(names) > 5 else "") + ")"
        rows.append((card.name, card.family, card.language or "?", card.quality or "?", str(card.sample_rate),
                     speakers, source if source == "bundled" else str(loaded.path)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `sonorant` command; returns the exit status."""
    args = _build_parser().parse_args(argv)
    # One-shot commands are quiet unless asked; a server says where it listens and what it does, as servers do.
    quiet = logging.INFO if args.command == "serve" else logging.WARNING
    level = {0: quiet, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "speak":
            from .speak import run_speak

            return run_speak(args)
        if args.command == "bench":
            from .bench.cli import run_bench_command

            return run_bench_command(args)
        if args.command == "export":
            from .export import run_export_command

            return run_export_command(args)
        if args.command == "train":
            from .train.cli import run_train_command

            return run_train_command(args)
        if args.command == "train-export":
            from .train.cli import run_train_export_command

            return run_train_export_command(args)
        if args.command == "pseudo-label":
            from .train.cli import run_pseudo_label_command

            return run_pseudo_label_command(args)
        if args.command == "serve":
            from .serve.cli import run_serve_command

            return run_serve_command(args)
        return _voices(args)
    except SonorantError as exc:
        print(f"sonorant: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
