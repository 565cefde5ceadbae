"""`sonorant serve`: the OpenAI-compatible speech API (and optionally Wyoming) over preloaded voices.

    sonorant serve [--host 127.0.0.1] [--port 8000] [--api-key KEY | --api-key-file PATH]
                   [--voice V]... [--vocoder P] [--codec P] [--runtime R] [--device D] [--max-chars N]
                   [--max-phoneme-ids N] [--max-queue N] [--max-batch N] [--batch-wait-ms MS] [--max-step-ms MS]
                   [--wyoming tcp://127.0.0.1:10200] [--threads N]

`add_serve_parser(subparsers)` adds the sub-command to the `sonorant` parser; `run_serve_command(args)`
runs it and returns the exit status. Building the parser imports neither torch nor the web stack.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
from pathlib import Path
from typing import Any

from ..errors import ConfigError

_LOG = logging.getLogger(__name__)

RUNTIME_CHOICES = ("auto", "eager", "compile", "onnx", "xla", "tensorrt")
""""auto" and `sonorant.runtimes.RUNTIMES`, spelled out so building the parser does not import torch."""


def add_serve_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `serve` to an argparse sub-parser set (`parser.add_subparsers()`); returns the new parser."""
    p = subparsers.add_parser(
        "serve", help="serve an OpenAI-compatible speech API (and optionally Wyoming) with streaming and batching",
        description="Serve POST /v1/audio/speech (OpenAI-compatible, streaming), GET /v1/voices, /v1/models, "
                    "/health and /metrics; concurrent requests share forward passes.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000; 0 picks a free one)")
    key = p.add_mutually_exclusive_group()
    key.add_argument("--api-key", default=None,
                     help="require 'Authorization: Bearer KEY' on every path but /health (and turn off /docs); "
                          "visible in the process list: prefer --api-key-file")
    key.add_argument("--api-key-file", type=Path, default=None, metavar="PATH",
                     help="read the API key from PATH, one line (a trailing newline is dropped); keeps it out of "
                          "the process list")
    p.add_argument("--voice", action="append", default=None, metavar="V",
                   help="voice to preload and warm up: a bundled name, a Piper .onnx, a NeMo FastPitch .nemo, or "
                        "a token voice (a toktts directory with --codec, a trained token voice directory) "
                        "(repeatable; the first is the default and answers to OpenAI's voice names; default: joe)")
    p.add_argument("--vocoder", default=None, metavar="PATH",
                   help="the vocoder of the spectrogram voices given (a NeMo HiFi-GAN .nemo for .nemo voices, a "
                        "WaveGlow checkpoint for NVIDIA Tacotron2 ones)")
    p.add_argument("--codec", default=None, metavar="PATH",
                   help="the codec of the token voices given that have none of their own (a toktts directory: "
                        "Meta's Encodec .th or a transformers Encodec directory; Spear-TTS: a unit codec .npz)")
    p.add_argument("--denoise", type=float, default=None,
                   help="WaveGlow voices: strength of the bias-removal denoiser (default 0.01; 0: off)")
    p.add_argument("--runtime", default="auto", choices=RUNTIME_CHOICES,
                   help="how the models run (default: auto, the best one for the device)")
    p.add_argument("--device", default="auto", metavar="D",
                   help="where the models run: auto, cpu, cuda, cuda:N or xla (default: auto)")
    p.add_argument("--max-chars", type=int, default=4096, help="longest input in characters (default 4096)")
    p.add_argument("--max-phoneme-ids", type=int, default=16384, metavar="N",
                   help="most phoneme ids one request may synthesize, which bounds its work: numbers and symbols "
                        "read as many (default 16384; 4096 characters of English are about 10000)")
    p.add_argument("--max-queue", type=int, default=64,
                   help="most requests held at once; more get 503 with Retry-After (default 64)")
    p.add_argument("--max-batch", type=int, default=4, help="most sentences or windows per forward pass (default 4)")
    p.add_argument("--batch-wait-ms", type=float, default=5.0,
                   help="how long an idle server waits for requests to batch with the first (default 5)")
    p.add_argument("--max-step-ms", type=float, default=300.0,
                   help="target time of one forward pass; batches grow only within it, which bounds how long new "
                        "requests wait for first audio (default 300)")
    p.add_argument("--wyoming", default=None, metavar="URI",
                   help="also serve the Wyoming protocol, e.g. tcp://127.0.0.1:10200 or unix:///run/sonorant.sock")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="torch intra-op threads (default: torch's)")
    p.set_defaults(func=run_serve_command)
    return p


def _api_key(args: argparse.Namespace) -> str | None:
    """The key from --api-key, or read from --api-key-file (one line; its line ending is dropped)."""
    path = args.api_key_file
    if path is None:
        return args.api_key
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"the API key file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the API key file {path}: {exc.strerror or exc}") from None
    key = text.removesuffix("\n").removesuffix("\r")
    if not key.strip():
        raise ConfigError(f"the API key file {path} is empty")
    if "\n" in key or "\r" in key:
        raise ConfigError(f"the API key file {path} has more than one line; it must hold the key alone")
    if key != key.strip():
        raise ConfigError(f"the API key in {path} starts or ends with spaces; remove them")
    return key


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_serve_command(args: argparse.Namespace) -> int:
    """Load and warm up the voices, then serve until interrupted; returns the exit status."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"sonorant serve needs {exc.name!r}: pip install 'sonorant[serve]'") from None
    if args.wyoming:
        try:
            import wyoming  # noqa: F401
        except ImportError:
            raise ConfigError("--wyoming needs the 'wyoming' package: pip install 'sonorant[serve]'") from None
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be in 0..65535, got {args.port}")
    import torch

    from .. import load_voice
    from ..voices.registry import cli_options, options_for
    from .server import SpeechServer
    from .service import ServeConfig, SpeechService

    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    config = ServeConfig(max_chars=args.max_chars, max_phoneme_ids=args.max_phoneme_ids, max_queue=args.max_queue,
                         max_batch=args.max_batch, batch_wait_ms=args.batch_wait_ms, max_step_ms=args.max_step_ms,
                         api_key=_api_key(args))
    if config.api_key is None and not _is_loopback(args.host):
        _LOG.warning("listening on %s without --api-key: anyone who can reach it can use it", args.host)
    given = cli_options(args)
    per_voice = [(v, options_for(v, given)) for v in (args.voice or [None])]
    unused = sorted(set(given) - {k for _, opts in per_voice for k in opts})
    if unused:  # e.g. --denoise with Piper voices only: refused, not ignored
        raise ConfigError(f"--{' --'.join(unused)} applies to none of the voices given")
    voices = [load_voice(v, **opts, runtime=args.runtime, device=args.device) for v, opts in per_voice]
    service = SpeechService(voices, config)
    service.warmup()
    server = SpeechServer(service, args.host, args.port, wyoming=args.wyoming, log_level="info" if getattr(args, "verbose", 0) else "warning")
    _LOG.info("sonorant serving %s on %s/v1 (voices: %s)", args.runtime, server.url, ", ".join(service.voices))
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    return 0
