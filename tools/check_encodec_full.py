"""Check sonorant's Encodec against Meta's and transformers' at the default 24 kHz size (runs in the dev venv).

The fixtures are made by the upstream packages (`python3 tools/encodec_fixtures.py --full`, about 190 MB, not
committed) in ~/.cache/sonorant-fixtures/encodec-full: a random-init `encodec_model_24khz(pretrained=False)`
saved as Meta's `.th` (sizes read off the weights alone, as for the real checkpoint) and as a transformers
folder, with upstream decodes of rows of 150, 40 and 5 frames (all 32 codebooks and 2) and upstream codes of
a chirp at 1.5 and 24 kbps. Prints the SNR of every decode, whether the codes are identical and the time of a
whole decode; exits 1 if any audio is under 60 dB or any code differs.

    PYTHONPATH=src /work/venv/bin/python tools/check_encodec_full.py [--dir ~/.cache/sonorant-fixtures/encodec-full]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from sonorant.voices.encodec import load_codec

SNR_MIN_DB = 60.0


def snr_db(ref: np.ndarray, test: np.ndarray) -> float:
    err = float(np.sum((np.asarray(ref, np.float64) - test) ** 2))
    return float("inf") if err == 0 else 10 * np.log10(float(np.sum(np.asarray(ref, np.float64) ** 2)) / err)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=Path.home() / ".cache" / "sonorant-fixtures" / "encodec-full")
    args = ap.parse_args()
    name = "encodec_24khz_full"
    if not (args.dir / f"{name}_ref.npz").is_file():
        print(f"no fixtures in {args.dir}: make them with python3 tools/encodec_fixtures.py --full")
        return 1
    with np.load(args.dir / f"{name}_ref.npz") as d:
        ref = {k: d[k] for k in d.files}
    ok = True
    for fmt, path in (("meta", args.dir / f"{name}.th"), ("hf", args.dir / f"{name}_hf")):
        t0 = time.perf_counter()
        full = load_codec(path, codebooks=32)
        print(f"{fmt}: loaded {path.name} in {time.perf_counter() - t0:.1f} s: {full.cfg}")
        with torch.no_grad():
            for i, n in enumerate(ref["lengths"].tolist()):
                t0 = time.perf_counter()
                audio = full.decode(torch.from_numpy(ref["codes"][i : i + 1, :, :n]))[0].numpy()
                took = time.perf_counter() - t0
                snr = snr_db(ref[f"{fmt}_audio_{i}"], audio)
                ok &= snr >= SNR_MIN_DB
                print(f"  row {i} ({n} frames, 32 codebooks): {snr:.1f} dB, decode {took:.3f} s")
            two = load_codec(path)
            snr = snr_db(ref[f"{fmt}_audio_k2"], two.decode(torch.from_numpy(ref["codes_k2"])).numpy())
            ok &= snr >= SNR_MIN_DB
            print(f"  2 codebooks (1.5 kbps): {snr:.1f} dB")
            for tag, codec in (("bw1_5", two), ("bw24", full)):
                for signal in ("chirp", "chirp_odd"):
                    same = np.array_equal(codec.encode(torch.from_numpy(ref[signal])).numpy(),
                                          ref[f"{signal}_codes_{tag}"])
                    ok &= same
                    print(f"  codes of {signal} at {tag}: {'identical' if same else 'DIFFERENT'} "
                          f"(upstream's smallest RVQ margin {float(ref[f'{signal}_margin']):.3g})")
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
