"""Decode speed of a default-size (Meta's 24 kHz layout) random-init `EncodecCodec` on this machine.

    PYTHONPATH=src python tools/bench_encodec.py [--seconds 5] [--threads N] [--repeats 3] [--chunk 10]

Prints seconds per second of audio (whole decode, batch 1, 2 codebooks; best of --repeats) as wall time and as
this process's CPU time (steadier on a shared machine; with --threads 1 the two agree when the machine is
idle) and, with --chunk, the same for a stream of that many frames per chunk. Random weights decode as fast
as trained ones: the work is the same convolutions and LSTM steps.
"""

from __future__ import annotations

import argparse
import time

import torch

from sonorant.models.encodec import EncodecCodec, EncodecConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="audio per decode")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=0, help="frames per streamed chunk (0: no stream run)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    codec = EncodecCodec(EncodecConfig()).eval()
    with torch.no_grad():
        codec.quantizer.codebooks.normal_()
    params = sum(p.numel() for p in codec.parameters())
    dec = sum(p.numel() for p in codec.decoder.parameters())
    print(f"parameters: {params / 1e6:.2f} M (decoder {dec / 1e6:.2f} M), threads {torch.get_num_threads()}")
    frames = round(args.seconds * codec.cfg.frame_rate)
    codes = torch.randint(0, codec.spec.bins, (1, codec.spec.codebooks, frames))
    audio_s = frames * codec.spec.hop / codec.spec.sample_rate
    with torch.inference_mode():
        codec.decode(codes[:, :, :10])  # warm-up
        whole = best(lambda: codec.decode(codes), args.repeats)
        print(f"whole decode of {audio_s:.2f} s: wall {whole[0] / audio_s:.4f} s per s, cpu {whole[1] / audio_s:.4f}")
        if args.chunk:
            def stream() -> None:
                state = codec.stream_state(1)
                for start in range(0, frames, args.chunk):
                    _, state = codec.decode_stream(codes[:, :, start : start + args.chunk], state,
                                                   start + args.chunk >= frames)

            t = best(stream, args.repeats)
            print(f"stream of {args.chunk}-frame chunks: wall {t[0] / audio_s:.4f} s per s, cpu {t[1] / audio_s:.4f}")


def best(run: object, repeats: int) -> tuple[float, float]:
    """(best wall seconds, best CPU seconds) of `repeats` calls of `run`."""
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        run()  # type: ignore[operator]
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus)


if __name__ == "__main__":
    main()
