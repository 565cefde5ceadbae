"""Upstream Spear-TTS generation speed: greedy tokens/s of spear-tts-pytorch's own `TextToSemantic.generate`.

NOT a project module: it runs in the throwaway venv of ``tools/spear_fixtures.py`` (``--setup-only`` builds
it) and does not import sonorant.  It is the baseline sonorant's static-cache decoder is compared with::

    python3 tools/spear_fixtures.py --setup-only
    nice ~/.cache/sonorant-fixtures/venvs/speartts/bin/python tools/bench_spear_upstream.py [--threads 1]

Models: the committed tiny fixture (``tests/fixtures/speartts/spear_tiny.pt``) and a mid-size random-init
model (dim 512, 6 + 6 blocks, 8 heads of 64, 2 kv heads, 256 text ids, 500 semantic ids).  Each runs greedy
decoding (temperature 0) of exactly ``--tokens`` semantic tokens per row at each ``--batch`` size: the EOS
logit is set to -inf through upstream's own ``filter_logits_fn`` hook, so no row stops early and every run
has the same length.  Sources are ``--src-len`` random text ids per row.  One short warm-up run per model
and batch precedes the timed ones; the best of ``--repeats`` is reported (the machine is shared).  Upstream
recomputes the cross-attention keys/values of the whole source at every step and re-rotates every cached key
(its cache holds un-rotated keys), so its cost per token grows with the source and the generated length.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spear_fixtures import KWARGS as TINY_KWARGS  # noqa: E402
from spear_fixtures import ROOT, install_stubs  # noqa: E402

MID_KWARGS = dict(dim=512, source_depth=6, target_depth=6, num_text_token_ids=256, num_semantic_token_ids=500,
                  dim_head=64, heads=8, target_kv_heads=2, target_early_exit_layer=2)


def bench(torch, model, batch: int, tokens: int, src_len: int, repeats: int) -> dict:
    eos = model.eos_id["speech"]

    def no_eos(logits):
        logits = logits.clone()
        logits[..., eos] = float("-inf")
        return logits

    g = torch.Generator().manual_seed(0)
    src = torch.randint(1, model.num_text_token_ids, (batch, src_len), generator=g)

    def run(n: int):
        return model.generate(src, source_type="text", target_type="speech", temperature=0.0, max_length=n,
                              filter_logits_fn=no_eos)

    with torch.no_grad():
        run(4)  # warm-up
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = run(tokens)
            times.append(time.perf_counter() - t0)
    assert out.shape == (batch, tokens) and not bool((out == eos).any())
    best = min(times)
    return {"batch": batch, "tokens": tokens, "src_len": src_len, "seconds": round(best, 3),
            "tokens_per_s": round(batch * tokens / best, 1), "steps_per_s": round(tokens / best, 1),
            "all_seconds": [round(t, 3) for t in times]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--src-len", type=int, default=64)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--models", nargs="+", default=["tiny", "mid"], choices=["tiny", "mid"])
    ap.add_argument("--out", type=Path, help="also write the results as JSON here")
    ap.add_argument("--save-mid", type=Path, default=None,
                    help="also save the mid-size model here in upstream's checkpoint format (+ its .json "
                         "arguments), so tools/bench_tokens.py times sonorant on the same weights")
    args = ap.parse_args()

    os.environ.setdefault("TQDM_DISABLE", "1")
    install_stubs()
    import spear_tts_pytorch as spear
    import torch

    torch.set_num_threads(args.threads)
    results = {"torch": torch.__version__, "threads": args.threads, "cpu": os.cpu_count(), "runs": []}
    for name in args.models:
        if name == "tiny":
            model = spear.TextToSemantic(**TINY_KWARGS)
            model.load(str(ROOT / "tests" / "fixtures" / "speartts" / "spear_tiny.pt"))
        else:
            torch.manual_seed(0)
            model = spear.TextToSemantic(**MID_KWARGS)
            if args.save_mid is not None:
                args.save_mid.parent.mkdir(parents=True, exist_ok=True)
                torch.save({"model": model.state_dict()}, args.save_mid)
                args.save_mid.with_suffix(".json").write_text(json.dumps(MID_KWARGS, indent=1) + "\n")
        model.eval()
        params = sum(p.numel() for p in model.parameters())
        for batch in args.batch:
            row = {"model": name, "params": params, **bench(torch, model, batch, args.tokens, args.src_len,
                                                             args.repeats)}
            results["runs"].append(row)
            print(json.dumps(row), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
