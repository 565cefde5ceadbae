"""Time to first audio of a streamed token-voice request through the server's `SpeechService` (the path
`POST /v1/audio/speech` takes, without HTTP): from the request's arrival to its first piece reaching the
reader, as the server's `sonorant_ttfa_seconds` metric measures it.

Runs the committed toktts fixture with the Encodec fixture (tests/fixtures), greedy and seeded sampling, one
sentence and three, `--repeats` streamed requests one after another after a warm-up; prints the medians of
first audio and of the whole request, the pieces per request, and checks that the pieces join to
`voice.synthesize`'s audio.

    PYTHONPATH=src OMP_NUM_THREADS=1 /work/venv/bin/python tools/token_serve_ttfa.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

import numpy as np

import sonorant
from sonorant import SynthesisConfig
from sonorant.serve import ServeConfig, SpeechService

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
TEXTS = ("The family would enjoy your visit.", "Hello friend. Good day. Come here.")


async def one(service: SpeechService, voice: sonorant.Voice, text: str,
              cfg: SynthesisConfig) -> tuple[float, float, int, np.ndarray]:
    """Seconds to the first piece and to the last, the pieces, the audio of one streamed request."""
    stream = await service.speak(voice, text, cfg, streaming=True)
    pieces = [piece.samples async for piece in stream]
    done = time.monotonic()
    assert stream.first_audio is not None
    return stream.first_audio - stream.arrival, done - stream.arrival, len(pieces), np.concatenate(pieces)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    voice = sonorant.load_voice(FIXTURES / "toktts" / "model", codec=FIXTURES / "encodec" / "encodec_tiny.th")
    service = SpeechService([voice], ServeConfig(max_batch=2))
    service.warmup()
    service.start()
    try:
        for text in TEXTS:
            for cfg in (SynthesisConfig(normalize_text=False, seed=1),
                        SynthesisConfig(normalize_text=False, decoding="sample", seed=3)):
                ref = voice.synthesize(text, cfg).samples
                runs = [asyncio.run(one(service, voice, text, cfg)) for _ in range(args.repeats + 1)][1:]
                same = all(len(a) == len(ref) and float(np.abs(a - ref).max()) < 1e-5 for *_, a in runs)
                first = statistics.median(r[0] for r in runs)
                total = statistics.median(r[1] for r in runs)
                print(f"{text!r} {cfg.decoding}: {len(ref) / voice.sample_rate:.2f} s of audio in {runs[0][2]} "
                      f"pieces; first audio {first * 1e3:.1f} ms, whole request {total * 1e3:.1f} ms (median of "
                      f"{args.repeats}); joined pieces == synthesize: {same}")
    finally:
        service.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
