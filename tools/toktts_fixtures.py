"""Build the toktts parity fixtures with Hugging Face transformers itself.

NOT a project module: it runs in a throwaway venv that has transformers, never in sonorant's own
environment. Run it with any Python 3.11; it makes the venv on first use and re-runs itself inside it::

    python3 tools/toktts_fixtures.py                 # -> tests/fixtures/toktts/
    python3 tools/toktts_fixtures.py --out /tmp/x    # elsewhere

The venv (~/.cache/sonorant-fixtures/venvs/transformers, about a minute to install here) gets
``transformers>=5,<6``, ``safetensors`` and ``torch==2.13.0`` with a constraints file holding that pin,
so pip takes the local CPU wheel and never a CUDA build.

What toktts does (github.com/alexeyrodriguez/toktts, model.py / audio_encoding.py / trainer.py), and
what this script repeats with tiny sizes:

* encoder config = ``AutoConfig.from_pretrained("gpt2", vocab_size=len(ByT5 tokenizer) (384), n_ctx=100,
  bos_token_id=None, eos_token_id=1, **yaml encoder section)``; decoder config = the same with
  ``vocab_size=1026, n_ctx=302, bos_token_id=1024, eos_token_id=1025, **yaml decoder section`` (the yaml
  section also carries ``seq_length: 300``, which lands in the config as an extra attribute);
  ``EncoderDecoderConfig.from_encoder_decoder_configs`` (decoder: ``is_decoder``, ``add_cross_attention``),
  ``EncoderDecoderModel(config)``, then ``config.decoder_start_token_id = 1024``, ``config.pad_token_id =
  1025``; the trainer's ``save_model`` = ``save_pretrained`` (no tokenizer files are saved: toktts loads
  ``google/byt5-small``'s tokenizer from the hub, which is byte-level and file-free).
  No hub here, so the hub's ``gpt2/config.json`` values are written out below (``GPT2_HUB``).
* sizes shrunk from ``config/two_secs_augmented/ex_small.yaml`` (encoder 4 x 128 wide, 8 heads; decoder
  6 x 192, 12 heads): encoder 2 x 32 (2 heads), decoder 2 x 48 (3 heads): head width 16 as upstream, and
  the widths differ as upstream, so the model has ``enc_to_dec_proj`` (encoder width -> decoder width).
  ``n_positions`` stays the hub's 1024 (toktts never changes it).
* every parameter is then re-drawn from a seeded generator (weights N(0, 0.15), embeddings N(0, 0.3),
  biases N(0, 0.1), LayerNorm gains 1 + N(0, 0.1)): GPT-2's own init leaves biases at 0 and LayerNorms at
  identity, which would hide a bias or LayerNorm mapping error. Then the EOS row of the (tied) decoder
  embedding is scaled by ``EOS_SCALES[i]``, the first scale for which some but not all greedy rows end with
  EOS before ``MAX_LENGTH`` (recorded in the JSON).

References (computed from the model as ``EncoderDecoderModel.from_pretrained`` reloads it, eval mode,
default attention implementation): ByT5 ids of the texts; encoder outputs; teacher-forced logits of a
padded batch and of each row alone; greedy ``generate`` per text and for the padded batch; beam search
``num_beams=4, do_sample=False`` per text (all 4 final beams and their scores) and for the batch.
toktts itself samples (``num_beams=4, do_sample=True, max_length=301``); sampling cannot be compared token
for token, so the fixture pins ``do_sample=False``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

VENV = Path.home() / ".cache" / "sonorant-fixtures" / "venvs" / "transformers"
TORCH = "torch==2.13.0"
REPO = Path(__file__).resolve().parents[1]

SEED = 24
TOK_BOS, TOK_EOS, CODES = 1024, 1025, 1024  # toktts' audio_encoding.py
MAX_LENGTH = 40  # generate's bound here (toktts: seq_length + 1 = 301); counts the BOS
EOS_SCALES = (1.0, 1.5, 2.0, 2.5, 3.0, 3.25, 3.5, 3.75, 4.0, 4.5, 5.0, 6.0, 8.0)
BEAMS = 4

# The hub's gpt2/config.json, what AutoConfig.from_pretrained("gpt2") starts from.
GPT2_HUB = {
    "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
    "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
    "layer_norm_epsilon": 1e-05, "n_ctx": 1024, "n_embd": 768, "n_head": 12, "n_layer": 12,
    "n_positions": 1024, "resid_pdrop": 0.1, "summary_activation": None, "summary_first_dropout": 0.1,
    "summary_proj_to_labels": True, "summary_type": "cls_index", "summary_use_proj": True,
    "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}}, "vocab_size": 50257,
}
# ex_small.yaml's model sections, shrunk (keys as in the yaml: they are splatted into the configs).
ENCODER_YAML = {"n_layer": 2, "n_head": 2, "n_embd": 32, "attn_pdrop": 0.2}
DECODER_YAML = {"n_layer": 2, "n_head": 3, "n_embd": 48, "attn_pdrop": 0.2, "seq_length": 300}

TEXTS = [  # model inputs: different lengths, one with non-ASCII bytes
    "hello friend",
    "I am happy you are here",
    "The family would enjoy your visit.",
    "Ünïcödé: naïve café, 1.5 €",
]
TOKENIZER_TEXTS = [  # front-end references only
    "", " ", "a", "Hello, World!", "  two  spaces ", "tab\tnew\nline", "\x00\x7f",
    "e\u0301 vs \u00e9", "ß Æ ø Ω Ж", "日本語のテキスト", "😀👍🏽", "\u200bzero\u200dwidth", "\U0010ffff",
    "I paid $3.50 for 2 coffees.",
]
SPECIAL_TEXTS = ["a</s>b", "<pad>x", "<unk>", "<extra_id_0>", "x<extra_id_124>y"]  # upstream parses these
TF_LENGTHS = [12, 7, 10, 5]  # teacher-forced decoder inputs per row (BOS included)


def log(*a: object) -> None:
    print("[toktts_fixtures]", *a, flush=True)


# --------------------------------------------------------------------------------------------- the venv


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def ensure_venv() -> None:
    """Create the throwaway venv (once) and re-run this script inside it."""
    py = VENV / "bin" / "python"
    ok = py.exists() and subprocess.run([py, "-c", "import transformers, safetensors, torch"],
                                        capture_output=True).returncode == 0
    if not ok:
        log(f"creating {VENV} (transformers 5.x, {TORCH} CPU)")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        constraints = VENV / "constraints.txt"
        constraints.write_text(TORCH + "\n")
        subprocess.run([py, "-m", "pip", "install", "-q", "transformers>=5,<6", "safetensors", TORCH,
                        "-c", str(constraints)], check=True)
    os.execv(str(py), [str(py), __file__, *sys.argv[1:]])


# ---------------------------------------------------------------------------------------------- the model


def make_model():
    """toktts' model.make_model with the shrunk yaml sections and the hub config written out."""
    from transformers import ByT5Tokenizer, EncoderDecoderConfig, EncoderDecoderModel, GPT2Config

    tokenizer = ByT5Tokenizer()
    enc = GPT2Config(**{**GPT2_HUB, "vocab_size": len(tokenizer), "n_ctx": 100, "bos_token_id": tokenizer.bos_token_id,
                        "eos_token_id": tokenizer.eos_token_id, **ENCODER_YAML})
    dec = GPT2Config(**{**GPT2_HUB, "vocab_size": CODES + 2, "n_ctx": 302, "bos_token_id": TOK_BOS,
                        "eos_token_id": TOK_EOS, **DECODER_YAML})
    config = EncoderDecoderConfig.from_encoder_decoder_configs(enc, dec)
    model = EncoderDecoderModel(config=config)
    model.config.decoder_start_token_id = TOK_BOS
    model.config.pad_token_id = TOK_EOS
    return model, tokenizer


def randomize(model) -> None:
    """Re-draw every parameter from a seeded generator (see the module docstring)."""
    import torch

    gen = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            noise = torch.randn(p.shape, generator=gen)
            if ".ln_" in name or name.endswith("ln_f.weight") or name.endswith("ln_f.bias"):
                p.copy_(1.0 + 0.1 * noise if name.endswith(".weight") else 0.1 * noise)
            elif name.endswith(".bias"):
                p.copy_(0.1 * noise)
            elif name.endswith("wte.weight") or name.endswith("wpe.weight"):
                p.copy_(0.3 * noise)
            else:
                p.copy_(0.15 * noise)


def eos_row(model):
    return model.decoder.get_input_embeddings().weight[TOK_EOS]


# ------------------------------------------------------------------------------------------ references


def batch_ids(tokenizer, texts):
    enc = tokenizer(texts, padding=True, return_tensors="pt")
    return enc["input_ids"], enc["attention_mask"]


def greedy(model, tokenizer, texts):
    import torch

    ids, mask = batch_ids(tokenizer, texts)
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=mask, max_length=MAX_LENGTH, do_sample=False,
                             num_beams=1, output_scores=True, return_dict_in_generate=True)
    scores = torch.stack(out.scores, dim=1)  # [b, steps, V]
    top2 = scores.topk(2, dim=-1).values
    margin = (top2[..., 0] - top2[..., 1])  # [b, steps]
    return out.sequences, margin


def ended(seq) -> bool:
    """Whether a generated row holds EOS (it stopped before the bound)."""
    return bool((seq[1:] == TOK_EOS).any())


def row_len(seq) -> int:
    """BOS + tokens up to and including the first EOS (or all of them)."""
    hits = (seq[1:] == TOK_EOS).nonzero()
    return int(hits[0]) + 2 if len(hits) else len(seq)


def pick_eos_scale(model, tokenizer) -> float:
    """Scale the EOS embedding row until some, not all, greedy rows end before MAX_LENGTH."""
    import torch

    base = eos_row(model).detach().clone()
    for scale in EOS_SCALES:
        with torch.no_grad():
            eos_row(model).copy_(base * scale)
        seqs = [greedy(model, tokenizer, [t])[0][0] for t in TEXTS]
        n_ended = sum(ended(s) for s in seqs)
        lens = [row_len(s) for s in seqs]
        log(f"EOS scale {scale}: rows ending early {n_ended}/{len(TEXTS)}, lengths {lens}")
        if 2 <= n_ended < len(TEXTS) and all(n >= 4 for n in lens):
            return scale
    raise SystemExit("no EOS scale gives rows that end and rows that do not: change SEED")


def teacher_inputs():
    import torch

    gen = torch.Generator().manual_seed(SEED + 1)
    t = max(TF_LENGTHS)
    tgt = torch.full((len(TF_LENGTHS), t), TOK_EOS, dtype=torch.long)  # padded with pad = EOS
    for r, n in enumerate(TF_LENGTHS):
        tgt[r, 0] = TOK_BOS
        tgt[r, 1:n] = torch.randint(0, CODES, (n - 1,), generator=gen)
    mask = (torch.arange(t)[None, :] < torch.tensor(TF_LENGTHS)[:, None]).long()
    return tgt, mask


def build_references(model, tokenizer) -> tuple[dict, dict]:
    import numpy as np
    import torch

    arrays: dict[str, np.ndarray] = {}
    meta: dict = {}
    ids, mask = batch_ids(tokenizer, TEXTS)
    arrays["src"], arrays["src_lengths"] = ids.numpy(), mask.sum(1).numpy()
    with torch.no_grad():
        arrays["memory"] = model.encoder(input_ids=ids, attention_mask=mask).last_hidden_state.numpy()

    # teacher forcing: the padded batch, then each row alone (its own lengths, no padding)
    tgt, tmask = teacher_inputs()
    arrays["tgt_in"], arrays["tgt_lengths"] = tgt.numpy(), tmask.sum(1).numpy()
    with torch.no_grad():
        arrays["logits_batch"] = model(input_ids=ids, attention_mask=mask, decoder_input_ids=tgt,
                                       decoder_attention_mask=tmask).logits.numpy()
        singles = []
        for r in range(len(TEXTS)):
            s, n = int(arrays["src_lengths"][r]), TF_LENGTHS[r]
            singles.append(model(input_ids=ids[r:r + 1, :s], decoder_input_ids=tgt[r:r + 1, :n]).logits[0].numpy())
    arrays["logits_single"] = np.concatenate(singles)  # rows' valid positions one after another
    batch_vs_single = max(float(np.abs(arrays["logits_batch"][r, :n] - singles[r]).max())
                          for r, n in enumerate(TF_LENGTHS))
    meta["upstream_batch_vs_single_max_abs"] = batch_vs_single

    # greedy, one text at a time and as one padded batch
    seqs, margins = [], []
    for t in TEXTS:
        s, m = greedy(model, tokenizer, [t])
        seqs.append(s[0])
        margins.append(float(m[0, : row_len(s[0]) - 1].min()))
    arrays["greedy"] = _pad_rows(seqs)
    meta["greedy_lengths"] = [row_len(s) for s in seqs]
    meta["greedy_ended"] = [ended(s) for s in seqs]
    meta["greedy_min_top2_margin"] = min(margins)
    batch_seqs, _ = greedy(model, tokenizer, TEXTS)
    arrays["greedy_batch"] = batch_seqs.numpy()
    meta["greedy_batch_equals_single"] = all(
        np.array_equal(batch_seqs[r, : row_len(seqs[r])].numpy(), seqs[r][: row_len(seqs[r])].numpy())
        for r in range(len(TEXTS)))

    # beam search: every final beam and its score per text, then the batch's best sequences
    beam_settings = {"num_beams": BEAMS, "do_sample": False, "max_length": MAX_LENGTH,
                     "length_penalty": 1.0, "early_stopping": False, "num_return_sequences": BEAMS}
    beams, scores = [], []
    for t in TEXTS:
        i, m = batch_ids(tokenizer, [t])
        with torch.no_grad():
            out = model.generate(input_ids=i, attention_mask=m, output_scores=True, return_dict_in_generate=True,
                                 **beam_settings)
            best = model.generate(input_ids=i, attention_mask=m, **{**beam_settings, "num_return_sequences": 1})
        assert torch.equal(best[0], out.sequences[0][: best.shape[1]]), "best beam differs between calls"
        beams.append(out.sequences)
        scores.append(out.sequences_scores)
    width = max(b.shape[1] for b in beams)
    arrays["beam_sequences"] = np.stack([_pad_to(b.numpy(), width) for b in beams])  # [texts, 4, L]
    arrays["beam_scores"] = torch.stack(scores).numpy()  # [texts, 4]
    arrays["beam_best"] = arrays["beam_sequences"][:, 0]
    with torch.no_grad():
        batch_best = model.generate(input_ids=ids, attention_mask=mask, **{**beam_settings, "num_return_sequences": 1})
    arrays["beam_batch_best"] = batch_best.numpy()
    meta["beam_settings"] = beam_settings
    meta["beam_best_lengths"] = [row_len(torch.from_numpy(b)) for b in arrays["beam_best"]]
    meta["beam_ended"] = [[ended(torch.from_numpy(s)) for s in b] for b in arrays["beam_sequences"]]
    meta["beam_batch_equals_single"] = all(
        np.array_equal(_trim(arrays["beam_batch_best"][r]), _trim(arrays["beam_best"][r])) for r in range(len(TEXTS)))
    return arrays, meta


def _pad_rows(rows):
    import numpy as np

    width = max(len(r) for r in rows)
    return np.stack([_pad_to(r.numpy()[None], width)[0] for r in rows])


def _pad_to(a, width):
    import numpy as np

    return np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=TOK_EOS)


def _trim(row):
    """A generated row up to and including its first EOS."""
    import torch

    return row[: row_len(torch.from_numpy(row))]


# ------------------------------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "tests" / "fixtures" / "toktts")
    args = ap.parse_args()
    if not in_venv():
        ensure_venv()

    import numpy as np
    import torch
    import transformers
    from transformers import EncoderDecoderModel

    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    model, tokenizer = make_model()
    randomize(model)
    model.eval()
    scale = pick_eos_scale(model, tokenizer)

    out = args.out
    (out / "model").mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out / "model")
    model = EncoderDecoderModel.from_pretrained(out / "model").eval()  # references from the file as loaded
    arrays, meta = build_references(model, tokenizer)
    arrays = {k: (v.astype(np.float32) if v.dtype.kind == "f" else v.astype(np.int64)) for k, v in arrays.items()}
    np.savez_compressed(out / "reference.npz", **arrays)

    texts = {
        "texts": TEXTS,
        "tokenizer": {t: tokenizer(t)["input_ids"] for t in TOKENIZER_TEXTS + TEXTS},
        "special_markers": {t: tokenizer(t)["input_ids"] for t in SPECIAL_TEXTS},
        "tokenizer_len": len(tokenizer),
        "eos_scale": scale,
        "seed": SEED,
        "max_length": MAX_LENGTH,
        "tf_lengths": TF_LENGTHS,
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__},
        "attn_implementation": model.config.decoder._attn_implementation,
        "generation_config": model.generation_config.to_diff_dict(),
        **meta,
    }
    (out / "reference.json").write_text(json.dumps(texts, indent=1, ensure_ascii=False) + "\n")
    write_readme(out, arrays, texts)
    log("wrote", out, {k: v.shape for k, v in arrays.items()})
    log(json.dumps({k: v for k, v in meta.items()}))


def write_readme(out: Path, arrays: dict, texts: dict) -> None:
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "README.md")
    sizes = "\n".join(f"- `{p.relative_to(out)}`: {p.stat().st_size:,} bytes" for p in files)
    shapes = "\n".join(f"- `{k}` {v.dtype} {list(v.shape)}" for k, v in sorted(arrays.items()))
    (out / "README.md").write_text(f"""# toktts parity fixtures

Made by `tools/toktts_fixtures.py` (transformers {texts['versions']['transformers']}, torch
{texts['versions']['torch']}, CPU) in its throwaway venv:

```
python3 tools/toktts_fixtures.py --out tests/fixtures/toktts
```

`model/` is an `EncoderDecoderModel.save_pretrained` directory built exactly as toktts' `make_model` builds
one (two GPT-2 configs from the hub's `gpt2` config; encoder vocab 384 = ByT5, EOS 1; decoder vocab 1026,
BOS 1024 = decoder start, EOS 1025 = pad; cross-attention; the encoder is a causal GPT2Model), shrunk to
encoder 2 x 32 (2 heads) and decoder 2 x 48 (3 heads), so `enc_to_dec_proj` (32 -> 48) is present as in
toktts' `ex_small` model. Every parameter is random (seed {texts['seed']}); the decoder's EOS embedding
row (tied to the logits) is scaled by {texts['eos_scale']} so that some greedy rows end early.
Regenerating gives identical weights and arrays with the same torch version.

## Files

{sizes}

## reference.npz (float32 / int64)

{shapes}

- `src` [4, s] ByT5 ids of `reference.json`'s `texts`, padded with 0; `src_lengths` [4]
- `memory` the encoder's last hidden state (before `enc_to_dec_proj`)
- `tgt_in` [4, 12] teacher-forced decoder inputs (BOS, random codes, pad 1025), `tgt_lengths` [4]
- `logits_batch` [4, 12, 1026] the padded batch (with `decoder_attention_mask`); `logits_single` the
  rows run alone (no padding), their valid positions concatenated
- `greedy` [4, L] `generate(max_length={texts['max_length']}, do_sample=False, num_beams=1)` per text (rows
  padded with 1025 after their end); `greedy_batch` the same for the 4 texts as one padded batch
- `beam_sequences` [4, 4, L] and `beam_scores` [4, 4]: `generate(num_beams=4, do_sample=False,
  max_length={texts['max_length']}, length_penalty=1.0, early_stopping=False, num_return_sequences=4)` per
  text: the 4 final beams, best first, and their `sequences_scores`; `beam_best` [4, L] the first of
  each; `beam_batch_best` the best sequences of the 4 texts run as one padded batch

## reference.json

`texts`; `tokenizer` (ByT5 ids of more texts, non-ASCII included); `special_markers` (texts holding
`</s>`, `<pad>`, `<unk>`, `<extra_id_N>`, which the upstream tokenizer turns into single control ids);
the EOS scale, generation settings and config, which rows end early (`greedy_ended`, `beam_ended`), the
smallest top-1/top-2 logit gap over the greedy steps (`greedy_min_top2_margin`), and upstream's own
batch-vs-single differences.
""")


if __name__ == "__main__":
    main()
