"""Write the committed tiny unit codec of the tests: 64 units over pairs of joe's prior-mean frames.

    PYTHONPATH=src python tools/unit_fixture.py [--out tests/fixtures/units]

It runs the benchmark's first sentences through sonorant's joe voice (eager runtime, noise off), fits 64
units of 2 frames each (k-means++ then Lloyd) on their length-regulated prior means (the "regulated" space
of `sonorant.voices.units`), and writes `joe_reg_k64_f2.npz` (float16 centroids, ~50 kB) and
`joe_reg_k64_f2_codes.json`: the units of one of those sentences, with the log-spectral distance of their
decode (flows with noise off, then joe's decoder) to joe's own audio as measured here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

import sonorant
from sonorant.arrays import pad_ids
from sonorant.bench.texts import DEFAULT_TEXTS
from sonorant.models.common.regulate import length_regulate
from sonorant.models.units import RegulatedFrames, UnitCodec, fit_kmeans, unit_vectors
from sonorant.voices.registry import load
from sonorant.voices.units import UnitHeader, save_unit_codebook

BINS, PER_UNIT = 64, 2
TEXT = "The quick brown fox jumps over the lazy dog."
KNOBS = {"length_scale": 1.0, "noise_scale": 0.0, "noise_w": 0.0}


def log_spectral_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over frames of the RMS difference of the log power spectra in dB (1024-point STFT, hop 256)."""
    n = min(len(a), len(b))
    win = torch.hann_window(1024)
    la, lb = (10 * torch.log10(torch.stft(torch.from_numpy(np.ascontiguousarray(x[:n])), 1024, 256, window=win,
                                          return_complex=True).abs() ** 2 + 1e-8) for x in (a, b))  # [f, t]
    return float(((la - lb) ** 2).mean(0).sqrt().mean())


@torch.inference_mode()
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "tests" / "fixtures" / "units")
    args = p.parse_args()
    torch.manual_seed(0)
    voice = sonorant.load_voice("joe", runtime="eager")
    rt, spec = voice.runtime, voice.runtime.spec
    texts = list(DEFAULT_TEXTS[:12])
    assert TEXT in texts
    ids = [voice.phoneme_ids(t)[0] for t in texts]
    knobs = np.array([[KNOBS[k.name] for k in spec.knobs]] * len(ids), dtype=np.float32)
    seeds = np.arange(len(ids), dtype=np.int64)
    enc = rt.encode(*pad_ids(ids, max(map(len, ids))), knobs, seeds, None)
    counts = rt.ops.to_host(enc.frames)  # [b]
    z = rt.frames(enc, knobs, seeds, int(counts.max()))  # [b, C, t]
    means = length_regulate(enc.tokens, enc.durations, int(counts.max()))[:, : spec.channels]  # [b, C, t]
    vectors = unit_vectors(means, PER_UNIT, torch.from_numpy(counts))  # [b, T, C * 2]
    sample = torch.cat([vectors[i, : -(-int(n) // PER_UNIT)] for i, n in enumerate(counts)])
    result = fit_kmeans(sample, BINS, iterations=50, seed=0)
    centroids = result.centroids.view(BINS, spec.channels, PER_UNIT).numpy().astype(np.float16)
    header = UnitHeader(voice="joe", voice_sha256=load("joe").source.digest, sample_rate=spec.sample_rate,
                        hop=spec.hop, channels=spec.channels, frames_per_unit=PER_UNIT, bins=BINS, space="regulated",
                        latents={"stage": "frames", "knobs": KNOBS, "texts": "sonorant.bench.texts.DEFAULT_TEXTS[:12]"},
                        fit={"method": "k-means++ then Lloyd", "sample_units": int(sample.shape[0]),
                             "iterations": result.iterations, "mean_sq_distance": result.inertia})
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"joe_reg_k{BINS}_f{PER_UNIT}.npz"
    save_unit_codebook(path, centroids, header)
    stages = rt.model.stages()
    codec = UnitCodec(torch.from_numpy(centroids.astype(np.float32)), stages["vocode"], spec,
                      frames=RegulatedFrames(stages["frames_post"], spec), frames_reach=spec.frames_reach)
    i = texts.index(TEXT)
    n = int(counts[i])
    codes = codec.encode(means[i : i + 1, :, :n])  # [1, 1, T]
    audio = codec.decode(codes)[0].numpy()
    plain = rt.ops.to_host(rt.vocode(z[i : i + 1, :, :n], counts[i : i + 1], None))[0]
    lsd = log_spectral_distance(audio, plain)
    out = {"text": TEXT, "knobs": KNOBS, "codes": codes[0, 0].tolist(), "frames": n, "lsd_db": round(lsd, 3)}
    (args.out / f"joe_reg_k{BINS}_f{PER_UNIT}_codes.json").write_text(json.dumps(out) + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes); {TEXT!r}: {codes.shape[2]} units, LSD {lsd:.2f} dB")


if __name__ == "__main__":
    main()
