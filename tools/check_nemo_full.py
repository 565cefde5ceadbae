"""Check sonorant's FastPitch + HiFi-GAN against NeMo on the default-size fixtures (runs in the dev venv).

The fixtures are made by NeMo itself (`tools/nemo_fixtures.py --full`, about 0.5 GB, not committed) in
~/.cache/sonorant-fixtures/nemo-full: a random-init FastPitch v1.05 (384 wide, 6 + 6 layers) and a
HiFi-GAN v1 (512 channels), their .nemo files, and NeMo's outputs on fixed token ids. Prints, per case
and row: frame counts (sonorant / NeMo), whether the integer durations are identical, the largest mel
difference and the audio SNR, and exits 1 if any falls short of the test suite's bounds (identical
frames and durations, mel <= 1e-4, audio >= 60 dB).

    /work/venv/bin/python tools/check_nemo_full.py [--dir ~/.cache/sonorant-fixtures/nemo-full]

NeMo runs a padded batch through convolutions that read the padding, so its padded rows differ from
its own single-utterance runs; those rows are shown against sonorant's single-utterance result
(which sonorant's batched rows equal) and only rows NeMo ran unpadded are held to NeMo's numbers.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from sonorant.models.fastpitch.voice import FastPitchVoice
from sonorant.voices.nemo import load_fastpitch, load_hifigan

MEL_TOL, SNR_MIN_DB = 1e-4, 60.0


def snr_db(ref: np.ndarray, test: np.ndarray) -> float:
    err = float(np.sum((np.asarray(ref, np.float64) - test) ** 2))
    return float("inf") if err == 0 else 10 * np.log10(float(np.sum(np.asarray(ref, np.float64) ** 2)) / err)


def run(fp, ids: torch.Tensor, lengths: torch.Tensor, pace: float, width: int | None = None):
    """(prediction, mel) of both FastPitch stages."""
    knobs = torch.tensor([[pace, 0.0, 1.0]] * ids.shape[0])
    with torch.inference_mode():
        p = fp.predict(ids, lengths, knobs)
        width = width or int(p.frames.max())
        mask = (torch.arange(width)[None] < p.frames[:, None]).float().unsqueeze(1)
        return p, fp.frames(p.tokens, p.durations, mask, knobs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default="~/.cache/sonorant-fixtures/nemo-full", help="the --full fixtures")
    args = ap.parse_args()
    d = Path(args.dir).expanduser()
    if not (d / "fastpitch_full.nemo").exists():
        print(f"no fixtures in {d}: make them with /tmp/nemo-venv/bin/python tools/nemo_fixtures.py --full")
        return 2
    torch.set_num_threads(max(1, torch.get_num_threads()))
    t0 = time.perf_counter()
    fp = load_fastpitch(d / "fastpitch_full.nemo")
    vocoder = load_hifigan(d / "hifigan_full_v1.nemo")
    FastPitchVoice(fp, vocoder)  # the pairing check
    n_fp = sum(p.numel() for p in fp.parameters())
    n_voc = sum(p.numel() for p in vocoder.parameters())
    print(f"loaded in {time.perf_counter() - t0:.1f} s: FastPitch {n_fp / 1e6:.2f} M parameters "
          f"(d_model {fp.cfg.d_model}, {fp.cfg.encoder.n_layer}+{fp.cfg.decoder.n_layer} layers, "
          f"{fp.cfg.n_vocab} tokens, pad {fp.cfg.padding_idx}), HiFi-GAN {n_voc / 1e6:.2f} M")
    ok = True
    mels: dict[str, torch.Tensor] = {}
    for name in ("fastpitch_full__single_pace1.0", "fastpitch_full__batch2_pace1.0"):
        with np.load(d / f"{name}.npz") as z:
            ref = {k: z[k] for k in z.files}
        ids, lengths, pace = torch.from_numpy(ref["ids"]), torch.from_numpy(ref["ids_lens"]), float(ref["pace"])
        t0 = time.perf_counter()
        p, mel = run(fp, ids, lengths, pace, width=int(ref["mel_lens"].max()))
        took = time.perf_counter() - t0
        mels[name] = mel
        for i in range(ids.shape[0]):
            n, frames = int(lengths[i]), int(ref["mel_lens"][i])
            unpadded = n == ids.shape[1] and frames == ref["mel"].shape[2]
            p1, mel1 = run(fp, ids[i : i + 1, :n], lengths[i : i + 1], pace)
            f = int(p1.frames)
            same_batch = int(p.frames[i]) == f and float((mel[i, :, :f] - mel1[0]).abs().max()) <= MEL_TOL
            durs = np.array_equal(p1.durations[0].numpy(), ref["durs"][i, :n].astype(np.float32))
            diff = float(np.abs(mel1[0].numpy() - ref["mel"][i, :, :frames]).max()) if f == frames else float("nan")
            line = (f"{name} row {i}: {n} ids, frames {f} / NeMo {frames}, durations identical {durs}, "
                    f"mel max |diff| {diff:.2e}, batched == single {same_batch}")
            if unpadded:
                good = f == frames and durs and diff <= MEL_TOL and same_batch
            else:
                line += " (NeMo ran this row padded: not held to its numbers)"
                good = same_batch
            ok &= good
            print(("ok   " if good else "FAIL ") + line)
        print(f"     {name}: both stages in {took * 1000:.0f} ms on {torch.get_num_threads()} threads")

    with np.load(d / "hifigan_full_v1__fastpitch_batch2.npz") as z:
        voc = {k: z[k] for k in z.files}
    t0 = time.perf_counter()
    with torch.inference_mode():
        audio = vocoder(torch.from_numpy(voc["mel"])).numpy()
    took = time.perf_counter() - t0
    for i in range(audio.shape[0]):
        snr = snr_db(voc["audio"][i], audio[i])
        good = audio.shape == voc["audio"].shape and snr >= SNR_MIN_DB
        ok &= good
        print(f"{'ok   ' if good else 'FAIL '}hifigan_full_v1 row {i} (NeMo's mel in): samples {audio.shape[1]} / "
              f"NeMo {voc['audio'].shape[1]}, SNR {snr:.1f} dB")
    print(f"     vocoder: {audio.shape[1] * audio.shape[0] / 22050:.2f} s of audio in {took:.2f} s")
    # the whole chain on the rows NeMo ran unpadded: sonorant's mel through sonorant's vocoder
    batch = mels["fastpitch_full__batch2_pace1.0"]
    for i in range(batch.shape[0]):
        if int(voc["mel_lens"][i]) == voc["mel"].shape[2]:
            with torch.inference_mode():
                chain = vocoder(batch[i : i + 1]).numpy()[0]
            snr = snr_db(voc["audio"][i], chain)
            good = snr >= SNR_MIN_DB
            ok &= good
            print(f"{'ok   ' if good else 'FAIL '}ids -> audio, row {i}: SNR {snr:.1f} dB against NeMo's "
                  "generate_spectrogram + convert_spectrogram_to_audio")
    print("all within bounds" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
