"""Check sonorant's Tacotron2 + WaveGlow against DLE on the default-size fixtures (runs in the dev venv).

The fixtures are made with NVIDIA's own code (`tools/dle_fixtures.py --full`, about 1.8 GB, not committed)
in ~/.cache/sonorant-fixtures/dle-full: a random-init Tacotron2 at DLE's default sizes, WaveGlows with 256
and 512 coupling channels, and DLE's outputs. Prints the encoder memory's largest difference, the frame
counts (sonorant's reference loop, its decode stage driven block by block, DLE's mel_lengths + 1), the
largest mel differences, and per WaveGlow the SNR of its audio, of the bias spectrum and of the denoised
audio; exits 1 if any falls short of the test suite's bounds (memory <= 1e-5, identical counts,
mel <= 1e-4, audio >= 60 dB).

    /work/venv/bin/python tools/check_dle_full.py [--dir ~/.cache/sonorant-fixtures/dle-full]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import torch

from sonorant.models.tacotron2 import Tacotron2Voice
from sonorant.models.tacotron2.stages import decode_all
from sonorant.models.waveglow import Denoiser
from sonorant.voices.nvidia import load_tacotron2, load_waveglow

MEMORY_TOL, MEL_TOL, SNR_MIN_DB = 1e-5, 1e-4, 60.0


def snr_db(ref: np.ndarray, test: np.ndarray) -> float:
    err = float(np.sum((np.asarray(ref, np.float64) - test) ** 2))
    return float("inf") if err == 0 else 10 * np.log10(float(np.sum(np.asarray(ref, np.float64) ** 2)) / err)


def check_tacotron2(directory: Path, waveglow_path: Path) -> bool:
    taco = load_tacotron2(directory / "tacotron2_full.pt")
    ref = dict(np.load(directory / "tacotron2_full_ref.npz"))
    voice = Tacotron2Voice(taco, load_waveglow(waveglow_path), block=16)
    stages, p, ok = voice.stages(), taco.cfg.prenet_dim, True
    knobs = torch.tensor([[taco.cfg.gate_threshold, 0.6]])
    for i in sorted(int(m.group(1)) for k in ref if (m := re.fullmatch(r"ids_(\d+)", k))):
        ids = torch.from_numpy(ref[f"ids_{i}"]).long()[None]
        lengths = torch.tensor([ids.shape[1]])
        memory, _ = taco.encode(ids, lengths)
        masks = torch.from_numpy(ref[f"masks_{i}"]).float()[None]  # [1, steps, 2, p]
        out = taco.infer(ids, lengths, masks)
        steps = masks.shape[1]
        noise = torch.ones(1, 2 * p, taco.cfg.max_decoder_steps + 16)
        noise[:, :, :steps] = masks[0].reshape(steps, 2 * p).T * 2 - 1
        (tokens,) = stages["encode"](ids, lengths, knobs)
        frames, counts = decode_all(stages, tokens, torch.ones(1, ids.shape[1]), knobs, noise, 16,
                                    taco.cfg.max_decoder_steps, taco.cfg.state_channels)
        dle = int(np.asarray(ref[f"mel_length_{i}"]).reshape(-1)[0]) + 1
        mem = float(np.abs(memory[0].numpy() - ref[f"memory_{i}"]).max())
        pre = float(np.abs(out.mel_pre[0].numpy() - ref[f"mel_{i}"]).max())
        post = float(np.abs(out.mel[0].numpy() - ref[f"mel_postnet_{i}"]).max())
        stage = float((frames - out.mel_pre).abs().max())
        print(f"tacotron2 case {i}: memory {mem:.2e}, counts {int(out.counts[0])}/{int(counts[0])}/{dle}, "
              f"mel {pre:.2e}, postnet mel {post:.2e}, decode stage vs loop {stage:.2e}")
        ok &= mem <= MEMORY_TOL and int(out.counts[0]) == int(counts[0]) == dle and max(pre, post, stage) <= MEL_TOL
    return ok


def check_waveglow(path: Path, ref_path: Path) -> bool:
    waveglow, ref, ok = load_waveglow(path), dict(np.load(ref_path)), True
    den = Denoiser(waveglow)
    bias = snr_db(ref["bias_spec"].reshape(-1), den.bias_spec.numpy())
    print(f"{path.name}: bias spectrum {bias:.1f} dB")
    ok &= bias >= SNR_MIN_DB
    for k in sorted(int(m.group(1)) for key in ref if (m := re.fullmatch(r"audio_(\d+)", key))):
        mel = torch.from_numpy(ref[f"mel_{k}"]).float()
        z = torch.from_numpy(ref[f"z_{k}"]).float() * float(ref[f"sigma_{k}"])
        audio = waveglow.infer(mel, z)
        snr = snr_db(ref[f"audio_{k}"].reshape(-1), audio.numpy().reshape(-1))
        parts = [f"audio {snr:.1f} dB"]
        ok &= snr >= SNR_MIN_DB
        for key in sorted(key for key in ref if key.startswith(f"denoised_{k}_")):
            strength = float(key.rsplit("_", 1)[1])
            source = torch.from_numpy(ref[f"audio_{k}"]).float().reshape(1, -1)
            d = snr_db(ref[key].reshape(-1), den(source, strength=strength).numpy().reshape(-1))
            parts.append(f"denoised {strength} {d:.1f} dB")
            ok &= d >= SNR_MIN_DB
        print(f"  case {k}: " + ", ".join(parts))
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path.home() / ".cache/sonorant-fixtures/dle-full")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    glows = sorted(args.dir.glob("waveglow*_full.pt"))
    if not glows or not (args.dir / "tacotron2_full.pt").exists():
        print(f"no full-size DLE fixtures in {args.dir} (make them with tools/dle_fixtures.py --full)")
        return 1
    ok = check_tacotron2(args.dir, glows[0])
    for path in glows:
        ok &= check_waveglow(path, path.with_name(path.stem + "_ref.npz"))
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
