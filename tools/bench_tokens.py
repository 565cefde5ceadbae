"""Token generation speed of sonorant's static-cache decoder: tokens/s of a Spear-TTS checkpoint at several
batch sizes and runtimes, in the same setting as tools/bench_spear_upstream.py (greedy, exactly --tokens
tokens per row: EOS held off with min_tokens, --src-len random text ids per row, best of --repeats after a
warm-up), so the two print comparable rows:

    python3 tools/spear_fixtures.py --setup-only
    ~/.cache/sonorant-fixtures/venvs/speartts/bin/python tools/bench_spear_upstream.py --models mid \\
        --save-mid ~/.cache/sonorant-bench/spear_mid.pt
    python tools/bench_tokens.py --checkpoint ~/.cache/sonorant-bench/spear_mid.pt --runtime eager compile

With --voice DIR (a token voice with an early-exit head, e.g. one `sonorant train-export` wrote) it times
plain sampling against speculative decoding on real text instead and reports the accepted-draft rate.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from sonorant.config import Decoding
from sonorant.errors import DecodeLimitError
from sonorant.runtimes.token_decoding import Batch, DecodeStats, TokenDecoder
from sonorant.runtimes.tokens import GraphRunner


def timed(decoder: TokenDecoder, batch: Batch, opts: Decoding, repeats: int) -> tuple[float, DecodeStats, int]:
    """(best seconds, the stats of that run, tokens generated) after one warm-up run."""
    best, stats_best, produced = float("inf"), DecodeStats(), 0
    for i in range(repeats + 1):
        stats = DecodeStats()
        start = time.perf_counter()
        try:
            rows = decoder.generate(batch, opts, stats)
        except DecodeLimitError as err:  # every row runs to the bound by design (EOS held off)
            rows = err.tokens
        seconds = time.perf_counter() - start
        if i and seconds < best:
            best, stats_best, produced = seconds, stats, sum(len(r) for r in rows)
    return best, stats_best, produced


def mid_model() -> torch.nn.Module:
    """A random-init model of the mid size bench_spear_upstream.py builds (dim 512, 6 + 6 blocks, 8 heads of
    64, 2 kv heads), for machines without the upstream venv (the GPU check)."""
    from sonorant.models.tokens import StackConfig, TokenModelConfig
    from sonorant.models.tokens.model import TokenTransformer

    common = dict(dim=512, heads=8, head_dim=64, ffn_dim=1365, ffn="geglu", gelu="exact", norm="rms", bias=False,
                  ffn_bias=True, positions="rotary")
    cfg = TokenModelConfig(src_vocab=257, tgt_vocab=501,
                           encoder=StackConfig(layers=6, kv_heads=8, causal=False, **common),
                           decoder=StackConfig(layers=6, kv_heads=2, cross=True, null_kv=True, **common),
                           bos=500, eos=500, pad=500, start_vector=True, early_exit_layer=2, max_target=2049)
    torch.manual_seed(0)
    return TokenTransformer(cfg).eval()


def bench_checkpoint(args: argparse.Namespace) -> list[dict]:
    if args.checkpoint == Path("mid"):
        model = mid_model()
    else:
        from sonorant.voices.speartts import load_speartts

        model, _ = load_speartts(args.checkpoint)
    model = model.to(args.device)
    rows = []
    for runtime in args.runtime:
        decoder = TokenDecoder(model, run=GraphRunner(runtime))
        for b in args.batch:
            g = torch.Generator().manual_seed(0)
            src = torch.randint(1, model.cfg.src_vocab - 1, (b, args.src_len), generator=g)
            batch = Batch(src.to(args.device), torch.full((b,), args.src_len, device=args.device),
                          torch.arange(b, device=args.device))
            opts = Decoding(temperature=0.0, max_tokens=args.tokens, min_tokens=args.tokens)
            seconds, stats, produced = timed(decoder, batch, opts, args.repeats)
            rows.append({"device": str(args.device), "runtime": runtime, "batch": b, "tokens": args.tokens,
                         "src_len": args.src_len, "seconds": round(seconds, 3),
                         "tokens_per_s": round(produced / seconds, 1),
                         "steps": stats.steps, "host_reads": stats.host_reads})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def bench_voice(args: argparse.Namespace) -> list[dict]:
    import sonorant

    voice = sonorant.load_voice(args.voice, runtime=args.runtime[0])
    texts = args.text or ["The birch canoe slid on the smooth planks.", "Please call me when you get home today.",
                          "It is a nice day to walk along the river.", "The quick brown fox jumps over the lazy dog."]
    ids = [i for t in texts for i in voice.phoneme_ids(t)]
    width = max(len(x) for x in ids)
    src = torch.zeros(len(ids), width, dtype=torch.int64)
    for r, x in enumerate(ids):
        src[r, :len(x)] = torch.tensor(x)
    decoder = TokenDecoder(voice.model.transformer, run=GraphRunner(args.runtime[0]))
    rows = []
    for b in args.batch:
        take = [r % len(ids) for r in range(b)]
        batch = Batch(src[take], torch.tensor([len(ids[r]) for r in take]), torch.arange(b) + 1)
        for method in ("sample", "speculative"):
            opts = Decoding(method=method, temperature=args.temperature, top_k=args.top_k, draft=args.draft)
            seconds, stats, produced = timed(decoder, batch, opts, args.repeats)
            rows.append({"voice": str(args.voice), "method": method, "batch": b, "draft": args.draft,
                         "seconds": round(seconds, 3), "tokens_per_s": round(produced / seconds, 1),
                         "accept_rate": round(stats.accept_rate, 3) if method == "speculative" else None,
                         "decoder_calls": stats.steps})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", type=Path,
                    help="a Spear-TTS checkpoint (tools/bench_spear_upstream.py --save-mid), or 'mid': a random "
                         "model of that size built here")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (--checkpoint only)")
    ap.add_argument("--voice", type=Path, help="a token voice with an early-exit head: sampling vs speculative")
    ap.add_argument("--runtime", nargs="+", default=["eager"], choices=["eager", "compile"])
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--src-len", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--draft", type=int, default=4)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--top-k", type=int, default=0)
    ap.add_argument("--text", nargs="*", default=None)
    ap.add_argument("--out", type=Path, help="also write the rows as JSON here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if (args.checkpoint is None) == (args.voice is None):
        ap.error("give --checkpoint or --voice")
    rows = bench_checkpoint(args) if args.checkpoint else bench_voice(args)
    if args.out:
        args.out.write_text(json.dumps({"threads": args.threads, "torch": torch.__version__, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
