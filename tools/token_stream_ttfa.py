"""Time to first audio of a token voice's stream: audio while the tokens are generated (`TokenEngine.stream`)
against the earlier path (every token first, then the codec's stream over the codes).

Runs the committed toktts fixture with the Encodec fixture (tests/fixtures), one sentence per decoding method,
the two paths interleaved `--repeats` times after a warm-up; prints the median seconds to the first piece and
to the whole utterance, and checks that both paths give the same audio.

    PYTHONPATH=src OMP_NUM_THREADS=1 /work/venv/bin/python tools/token_stream_ttfa.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np

import sonorant
from sonorant import SynthesisConfig
from sonorant.engine import StreamConfig, Utterance
from sonorant.engine.token_engine import TokenEngine, _chunks

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
TEXT = "The family would enjoy your visit."


def tokens_first(engine: TokenEngine, utt: Utterance, cfg: StreamConfig) -> Iterator[np.ndarray]:
    """The earlier stream: generate every token, then the codec's stream over the codes."""
    codes = engine.codes(engine.tokens([utt])[0])
    yield from engine.runtime.vocode_stream(codes, _chunks(cfg))


def while_generating(engine: TokenEngine, utt: Utterance, cfg: StreamConfig) -> Iterator[np.ndarray]:
    for piece, _ in engine.stream(utt, cfg):
        yield piece


def timed(stream: Callable[[], Iterator[np.ndarray]]) -> tuple[float, float, np.ndarray]:
    """Seconds to the first piece with audio, to the end, and the audio."""
    start = time.perf_counter()
    first, pieces = None, []
    for piece in stream():
        if first is None and piece.size:
            first = time.perf_counter() - start
        pieces.append(piece)
    return first or float("nan"), time.perf_counter() - start, np.concatenate(pieces)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    voice = sonorant.load_voice(FIXTURES / "toktts" / "model", codec=FIXTURES / "encodec" / "encodec_tiny.th")
    engine, schedule = voice.engine, StreamConfig()
    hop, rate = voice.engine.spec.hop, voice.sample_rate
    for cfg in (SynthesisConfig(normalize_text=False), SynthesisConfig(normalize_text=False, decoding="sample", seed=3)):
        _, utts, _ = voice.prepare(TEXT, voice.resolve(cfg))
        (utt,) = utts
        n = len(engine.tokens([utt])[0])
        paths = {"tokens first": partial(tokens_first, engine, utt, schedule),
                 "while generating": partial(while_generating, engine, utt, schedule)}
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
        audio = {}
        for name, path in paths.items():  # warm-up
            audio[name] = timed(path)[2]
        same = audio["tokens first"].shape == audio["while generating"].shape and float(
            np.abs(audio["tokens first"] - audio["while generating"]).max()) < 1e-5
        for _ in range(args.repeats):
            for name, path in paths.items():
                first, total, _ = timed(path)
                runs[name].append((first, total))
        print(f"{voice.name} ({voice.family}, Encodec fixture), {cfg.decoding}: {n} tokens = "
              f"{(n - 1) // 2 * hop / rate:.2f} s of audio, same audio: {same}")
        for name, times in runs.items():
            first = statistics.median(t[0] for t in times)
            total = statistics.median(t[1] for t in times)
            print(f"  {name:>16}: first audio {first * 1e3:7.1f} ms, whole utterance {total * 1e3:7.1f} ms "
                  f"(median of {args.repeats})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
