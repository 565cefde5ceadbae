"""Intelligibility of a token voice: speak held-out sentences, transcribe them with a Whisper judge, report
the WER (and the plain joe voice's on the same sentences, for reference).

    python tools/eval_token_voice.py VOICE_DIR --heldout ~/.cache/sonorant-corpus/manifests/TAG/heldout.jsonl \\
        [--decoding greedy|sample] [--judge base|tiny.en] [--out results.json] [--wav-dir DIR]

Sentences that do not end within the voice's bound are scored on what they said (their partial audio), and
counted in the report. The held-out sentences were never trained on (`tools/unit_corpus.py texts`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("voice", type=Path)
    ap.add_argument("--heldout", type=Path, required=True)
    ap.add_argument("--decoding", default="greedy", choices=["greedy", "sample"])
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--top-k", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--judge", default="base", choices=["base", "tiny.en"])
    ap.add_argument("--reference", action="store_true", help="also score the plain joe voice")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--wav-dir", type=Path)
    args = ap.parse_args()

    import sonorant
    from sonorant import SynthesisConfig
    from sonorant.bench.asr import WhisperJudge
    from sonorant.errors import DecodeLimitError

    texts = [json.loads(line)["text"] for line in args.heldout.read_text().splitlines() if line.strip()]
    judge = WhisperJudge.base() if args.judge == "base" else WhisperJudge()
    voice = sonorant.load_voice(args.voice)
    cfg = SynthesisConfig(decoding=args.decoding, temperature=args.temperature, top_k=args.top_k, seed=args.seed)
    hyps, unfinished, seconds, audio_s = [], 0, 0.0, 0.0
    for i, text in enumerate(texts):
        start = time.perf_counter()
        try:
            samples = voice.synthesize(text, cfg).samples
        except DecodeLimitError as err:  # score what it said
            unfinished += 1
            codes = [voice.engine.codes(t[t < voice.engine.spec.tokens.bins]) for t in err.tokens]
            samples = np.concatenate(voice.runtime.vocode(codes))
        seconds += time.perf_counter() - start
        audio_s += len(samples) / voice.sample_rate
        if args.wav_dir:
            args.wav_dir.mkdir(parents=True, exist_ok=True)
            sonorant.Audio(samples, voice.sample_rate).save(args.wav_dir / f"{i:02d}.wav")
        hyps.append(judge.transcribe(samples, voice.sample_rate))
        print(f"{i:2d} {text!r}\n   -> {hyps[-1]!r}", flush=True)
    result = {"voice": str(args.voice), "judge": args.judge, "decoding": args.decoding, "sentences": len(texts),
              "unfinished": unfinished, "wer": judge.wer(texts, hyps), "synthesis_seconds": round(seconds, 1),
              "audio_seconds": round(audio_s, 1), "hypotheses": hyps}
    if args.reference:
        joe = sonorant.load_voice("joe")
        ref = [judge.transcribe(joe.synthesize(t, SynthesisConfig(seed=0)).samples, joe.sample_rate) for t in texts]
        result["joe_wer"] = judge.wer(texts, ref)
    print(json.dumps({k: v for k, v in result.items() if k != "hypotheses"}))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
