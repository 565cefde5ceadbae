"""NVIDIA's Tacotron2 demo table for sonorant at DLE's default sizes, on any device (`python tools/bench_tacotron2.py`).

No trained Tacotron2 exists here, and a random-init one never stops (or stops at once). This builds the
default-size Tacotron2 (28 M parameters) and a WaveGlow (256 or 512 coupling channels) with random
weights, then schedules the gate: one decoder LSTM unit integrates a constant per step and the gate reads
only it, so at the default threshold every utterance stops after `--frames` steps (NVIDIA's table averages
602 mels for its 128-character input). Everything else is random: the decoder does a real model's work at
every step, the audio is noise. The table is `sonorant bench --mode seed`'s (`sonorant.bench.seed_table`),
a row per runtime, decode block and batch size; on a GPU, put it beside the demo's T4 / V100 rows.

    python tools/bench_tacotron2.py --device cpu --runtime eager,onnx --decode-blocks 1,16 --batch-sizes 1,8,32
    python tools/bench_tacotron2.py --device cuda --runtime eager,compile --batch-sizes 1,8,32 --json out.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
from pathlib import Path

import torch

import sonorant
from sonorant.bench.seed_table import format_seed_table, seed_report, seed_rows, with_speedups
from sonorant.models.tacotron2 import Tacotron2Voice
from sonorant.models.tacotron2.config import Tacotron2Config
from sonorant.models.tacotron2.model import Tacotron2
from sonorant.models.waveglow.config import WaveGlowConfig
from sonorant.models.waveglow.model import WaveGlow
from sonorant.runtimes import make_runtime
from sonorant.runtimes.cache import LazyModel
from sonorant.text.dle import tacotron2_pipeline
from sonorant.voices.card import LoadedVoice, VoiceCard

GATE_UNIT, GATE_STEP, GATE_SCALE = 0, 1e-3, 8.0


def schedule_gate(model: Tacotron2, frames: int) -> None:
    """Make every utterance stop after `frames` steps at the gate threshold 0.5: decoder unit GATE_UNIT's
    cell grows by tanh(GATE_STEP) per step (input, forget and output gates saturated), the gate reads only
    it, and its bias puts the crossing between steps frames - 1 and frames."""
    rnn, h, u = model.decoder.decoder_rnn, model.cfg.decoder_rnn_dim, GATE_UNIT
    rows = [u, h + u, 2 * h + u, 3 * h + u]  # the unit's input, forget, candidate and output rows
    with torch.no_grad():
        rnn.weight_ih[rows] = 0
        rnn.weight_hh[rows] = 0
        rnn.bias_hh[rows] = 0
        rnn.bias_ih[rows] = torch.tensor([30.0, 30.0, GATE_STEP, 30.0])
        model.decoder.gate_layer.weight.zero_()
        model.decoder.gate_layer.weight[0, u] = GATE_SCALE
        model.decoder.gate_layer.bias.fill_(-GATE_SCALE * math.tanh((frames - 0.5) * math.tanh(GATE_STEP)))


def bench_voice(frames: int, wn_channels: int, block: int, runtime: str, device: str, seed: int = 0,
                wn_layers: int = 8) -> sonorant.Voice:
    """A `sonorant.Voice` over the default-size random Tacotron2 (gate scheduled) + WaveGlow."""
    def build() -> Tacotron2Voice:
        torch.manual_seed(seed)
        t2 = Tacotron2(Tacotron2Config()).eval()
        schedule_gate(t2, frames)
        wg = WaveGlow(WaveGlowConfig(wn_channels=wn_channels, wn_layers=wn_layers)).eval()
        return Tacotron2Voice(t2, wg, block=block, max_steps=max(2000, 2 * frames), denoise=0.01)

    key = hashlib.sha256(f"bench-tacotron2:{frames}:{wn_channels}:{wn_layers}:{block}:{seed}".encode()).hexdigest()
    card = VoiceCard(name=f"tacotron2-random-{frames}f-wg{wn_layers}x{wn_channels}", family="tacotron2",
                     sample_rate=22050, language="en_US")
    loaded = LoadedVoice(card, LazyModel(lambda: key, build, card.name), lambda n, m: tacotron2_pipeline(n, m))
    options = {"device": device} if runtime in ("eager", "compile", "onnx") else {}
    voice = sonorant.Voice(make_runtime(runtime, loaded.source, **options), loaded)
    voice.engine.warmup()
    return voice


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--runtime", default="eager", help="comma-separated runtimes")
    p.add_argument("--decode-blocks", default="16", help="comma-separated decode steps per call (1: per step)")
    p.add_argument("--batch-sizes", default="1,8,32")
    p.add_argument("--frames", type=int, default=600, help="frames every utterance stops after (default 600)")
    p.add_argument("--wn-channels", type=int, default=256, help="WaveGlow coupling channels (256 or 512)")
    p.add_argument("--wn-layers", type=int, default=8,
                   help="WaveGlow layers per coupling (default 8; fewer to time the autoregressive part on a CPU)")
    p.add_argument("--warmup", type=int, default=3, help="unmeasured calls per row (the demo: 3)")
    p.add_argument("--input-length", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    rows, voice = [], None
    for runtime in args.runtime.split(","):
        for block in (int(b) for b in args.decode_blocks.split(",")):
            voice = bench_voice(args.frames, args.wn_channels, block, runtime, args.device, wn_layers=args.wn_layers)
            rows += seed_rows(voice, [int(b) for b in args.batch_sizes.split(",")], input_length=args.input_length,
                              iterations=args.repeats, warmup=args.warmup,
                              framework=f"sonorant-{runtime} block {block}")
    rows = with_speedups(rows)
    print(format_seed_table(rows))
    if args.json is not None and voice is not None:
        args.json.write_text(json.dumps(seed_report(rows, voice, " ".join(["python", *__import__("sys").argv])),
                                        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
