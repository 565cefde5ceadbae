"""`sonorant speak`: text in, an audio file or a stream on standard output out.

Everything that can be wrong with the output (a missing directory, a directory in place of a file, a file
that exists without `--force`, a suffix no format matches) is checked before any synthesis. Audio is
written as it is decoded: WAV and raw PCM go out chunk by chunk (on standard output a WAV header with
unknown length comes first, as streaming tools expect), and files are written under a temporary name
and renamed when complete, so an interrupted run never leaves a truncated file under the asked-for name.
"""

from __future__ import annotations

import argparse
import logging
import os
import struct
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .audio import encode_audio, format_of, to_int16
from .errors import ConfigError, SonorantError

_LOG = logging.getLogger("sonorant")
_STREAMED = ("wav", "pcm")
"""Formats written chunk by chunk; the others are encoded once the audio is complete."""


def wav_header(sample_rate: int, n_samples: int | None) -> bytes:
    """A 44-byte header of a mono 16-bit PCM WAV; `None` samples gives the maximal sizes streaming tools
    read as "until the end of the stream"."""
    data = 0xFFFFFFFF - 36 if n_samples is None else 2 * n_samples
    return (b"RIFF" + struct.pack("<I", min(36 + data, 0xFFFFFFFF)) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, 2 * sample_rate, 2, 16)
            + b"data" + struct.pack("<I", data))


class AudioOutput:
    """Where `speak` writes: a file (through a temporary name) or standard output, in one format."""

    def __init__(self, target: str, *, raw: bool = False, force: bool = False) -> None:
        self.to_stdout = target == "-"
        if self.to_stdout:
            self.fmt = "pcm" if raw else "wav"
            self.path: Path | None = None
            return
        path = Path(target).expanduser()
        if path.is_dir():
            raise ConfigError(f"{path} is a directory: give a file name, e.g. {path / 'speech.wav'}")
        self.fmt = "pcm" if raw else format_of(path)
        if not path.parent.is_dir():
            raise ConfigError(f"cannot write {path}: directory {path.parent} does not exist")
        if path.exists() and not force:
            raise ConfigError(f"{path} already exists: give --force to replace it")
        if not os.access(path.parent, os.W_OK):
            raise ConfigError(f"cannot write {path}: directory {path.parent} is not writable")
        self.path = path

    def write(self, chunks: Iterable[np.ndarray], sample_rate: int) -> float:
        """Write the chunks as they come; returns the seconds of audio written."""
        if self.to_stdout:
            return self._write(sys.stdout.buffer, chunks, sample_rate, seekable=False)
        assert self.path is not None
        tmp = self.path.with_name(f".{self.path.name}.partial-{os.getpid()}")
        try:
            with tmp.open("wb") as f:
                seconds = self._write(f, chunks, sample_rate, seekable=True)
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
        return seconds

    def _write(self, f: BinaryIO, chunks: Iterable[np.ndarray], sample_rate: int, *, seekable: bool) -> float:
        if self.fmt not in _STREAMED:
            pieces = list(chunks)
            samples = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
            f.write(encode_audio(samples, sample_rate, self.fmt))
            return len(samples) / sample_rate
        if self.fmt == "wav":
            f.write(wav_header(sample_rate, None))
        n = 0
        for chunk in chunks:
            f.write(to_int16(chunk).astype("<i2").tobytes())
            f.flush()
            n += len(chunk)
        if self.fmt == "wav" and seekable:  # a file: the real sizes, so every reader knows the length
            f.seek(0)
            f.write(wav_header(sample_rate, n))
        return n / sample_rate


def read_text(args: argparse.Namespace) -> str:
    """The text to speak: `--input-file`, the TEXT argument, or standard input for '-' / nothing."""
    if args.input_file is not None:
        if args.text != "-":
            raise ConfigError("give the text either as an argument or with --input-file, not both")
        try:
            return Path(args.input_file).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {args.input_file}: {exc.__class__.__name__}: {exc}") from None
    if args.text != "-":
        return args.text
    if sys.stdin.isatty():
        raise ConfigError("no text: give it as an argument, with --input-file, or on standard input")
    try:
        return sys.stdin.buffer.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"standard input is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def knobs_from_args(args: argparse.Namespace) -> dict[str, float]:
    """The knobs the command line sets: each --knob NAME=VALUE, and Piper's --length-scale, --noise-scale
    and --noise-w (the VITS knobs of those names)."""
    knobs: dict[str, float] = {}
    for item in getattr(args, "knob", None) or []:
        name, sep, value = item.partition("=")
        try:
            knobs[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise ConfigError(f"--knob takes NAME=VALUE with a number, got {item!r}")
    for name in ("length_scale", "noise_scale", "noise_w"):
        value = getattr(args, name, None)
        if value is not None:
            knobs[name] = value
    return knobs


def decoding_from_args(args: argparse.Namespace) -> dict[str, object]:
    """The token-decoding fields of `SynthesisConfig` the command line set."""
    names = ("decoding", "beams", "top_k", "top_p", "temperature", "max_tokens", "draft")
    return {n: getattr(args, n) for n in names if hasattr(args, n)}


def run_speak(args: argparse.Namespace) -> int:
    """Run `sonorant speak` for parsed `args`; returns the exit status."""
    from . import SynthesisConfig, load_voice
    from .engine import StreamConfig

    if args.no_normalize_ambiguous:
        raise ConfigError("--no-normalize is ambiguous: --no-text-normalize reads text as written, and audio is "
                          "only peak-normalized when --normalize-audio is given")
    target = "-" if args.output_raw else args.output
    if target is None:
        if sys.stdout.isatty():
            raise ConfigError("give an output file with -o FILE (or -o - to write WAV to a pipe)")
        target = "-"
    output = AudioOutput(target, raw=args.output_raw, force=args.force)  # checked before any synthesis
    text = read_text(args)
    if args.ssml:
        from .text.ssml import is_ssml

        if not is_ssml(text):
            text = f"<speak>{text}</speak>"
    cfg = SynthesisConfig(knobs=knobs_from_args(args), speed=args.speed, speaker=args.speaker, seed=args.seed, sentence_silence=args.sentence_silence,
                          normalize_text=not args.no_text_normalize, volume=args.volume,
                          normalize_audio=args.normalize_audio, **decoding_from_args(args))
    options = {"precision": args.precision} if args.precision != "fp32" else {}
    voice = load_voice(args.voice, vocoder=args.vocoder, denoise=args.denoise, device=args.device, runtime=args.runtime,
                       runtime_options=options, codec=getattr(args, "codec", None))
    resolved = voice.resolve(cfg)  # bad settings fail here, before anything is written
    if args.show_text:
        trace = voice.analyze(text, normalize=resolved.normalize_text)
        print(trace, file=sys.stderr if output.to_stdout else sys.stdout)
    # One chunk per sentence, each decoded whole: a file or a pipe wants throughput, and a pipe still gets
    # its first audio after the first sentence, as from Piper.
    chunks = (c.samples for c in voice.stream(text, cfg, StreamConfig(whole_sentences=True)))
    try:
        seconds = output.write(chunks, voice.sample_rate)
    except BrokenPipeError:
        _LOG.debug("standard output closed by its reader")
        return 0
    except OSError as exc:
        raise SonorantError(f"cannot write the audio: {exc.strerror or exc}") from None
    if not output.to_stdout:
        _LOG.info("wrote %s (%.2f s at %d Hz)", output.path, seconds, voice.sample_rate)
    return 0
