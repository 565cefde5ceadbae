"""Build the Spear-TTS parity fixtures with lucidrains' ``spear-tts-pytorch`` itself.

NOT a project module: the fixture half runs in a throwaway venv that has spear-tts-pytorch, never in
sonorant's environment, and it does not import sonorant.  It builds a tiny random-init ``TextToSemantic``
(grouped kv heads, an early-exit head), saves it with upstream's own ``TextToSemanticTrainer.save``
(``torch.save({model, optim, scheduler})``) after one real training step, loads it back with upstream's
``TextToSemantic.load`` and stores what upstream computes on fixed inputs in ``reference.npz``.

One command (any Python 3.11; it builds the venv on first use, ~1 minute with a warm pip cache, 1.4 GB,
then re-runs itself inside it; the tiny model and its references take ~40 s on a busy 2-core machine)::

    python3 tools/spear_fixtures.py                      # -> tests/fixtures/speartts
    python3 tools/spear_fixtures.py --setup-only         # only the venv (tools/bench_spear_upstream.py uses it)

Install recipe (``ensure_venv``): torch 2.13.0 (the local CPU wheel, pinned through a constraints file so
pip never fetches CUDA wheels); spear-tts-pytorch 0.4.8, audiolm-pytorch 2.4.0, x-clip 0.14.4 and encodec
0.1.1 with ``--no-deps`` (they require fairseq, torchaudio, torchvision and wandb, which do not install or
do not import next to torch 2.13 on Python 3.11); then the pure-Python dependencies, pinned to the versions
that produced the committed files (rotary-embedding-torch matters most: its cached-key rotation defines
the decoder's positions).  ``audiolm_pytorch/__init__`` imports everything, so ``install_stubs`` puts an
import hook in front of torchaudio, torchvision, fairseq and wandb that hands out empty modules; nothing
Spear's text-to-semantic path runs touches them.

Weight edits after the random init (the saved file is self-consistent; references come from the file):
every weight matrix except the embeddings is redrawn as N(0, (2 / sqrt(fan_in))^2) (at upstream's init a
random decoder repeats one token forever, see ``build_model``), every RMSNorm ``gamma`` is drawn as
1 + 0.2 N(0, 1) (all ones would hide a mis-mapped norm), and the semantic EOS row of the tied speech
embedding is scaled by a factor found by a deterministic search so that greedy decoding of the fixed
inputs ends some rows early at different steps and leaves others running to the bound (``tune_eos``).

Determinism: seeds are fixed before the model is built and every random input is drawn from a seeded
generator; the weights and arrays are reproducible with the same torch and package versions (the
``.pt`` bytes too, up to the zip container's stable layout).
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import json
import os
import subprocess
import sys
import types
from pathlib import Path

VENV = Path.home() / ".cache" / "sonorant-fixtures" / "venvs" / "speartts"
TORCH = "torch==2.13.0"
NO_DEPS = ["spear-tts-pytorch==0.4.8", "audiolm-pytorch==2.4.0", "x-clip==0.14.4", "encodec==0.1.1"]
DEPS = [
    "numpy==2.4.6", "beartype==0.23.1", "einops==0.8.2", "rotary-embedding-torch==0.9.1", "tqdm==4.70.1",
    "accelerate==1.16.0", "ema-pytorch==0.8.3", "gateloop-transformer==0.2.5", "hyper-connections==0.4.11",
    "joblib==1.6.0", "local-attention==1.11.2", "pytorch-warmup==0.2.0", "scikit-learn==1.9.1",
    "sentencepiece==0.2.3", "transformers==5.25.0", "vector-quantize-pytorch==1.32.0", "ftfy==6.3.1",
    "regex==2026.12.2",
]
STUBBED = ("torchaudio", "torchvision", "fairseq", "wandb")
ROOT = Path(__file__).resolve().parents[1]
CKPT_NAME = "spear_tiny.pt"

# The tiny model: GQA (4 query heads on 2 kv heads, so q mod g and q // group differ), heads * dim_head
# (64) != dim (32), decoder feed-forward mult 2 (the early-exit head's own feed-forward keeps upstream's
# fixed mult 4), early exit after 2 of 3 decoder blocks.
KWARGS = dict(
    dim=32,
    source_depth=2,
    target_depth=3,
    num_text_token_ids=40,
    num_semantic_token_ids=50,
    dim_head=16,
    heads=4,
    target_kv_heads=2,
    ff_mult=2,
    semantic_pad_id=-1,
    text_pad_id=0,
    autoset_semantic_eos_id=True,
    autoset_text_eos_id=True,
    target_early_exit_layer=2,
)
SRC_LENGTHS = [5, 11, 2, 8]  # text ids per input (EOS not counted; upstream appends it)
TF_LENGTHS = [6, 0, 10, 3]  # teacher-forced target prefixes (semantic ids; the start vector not counted)
GREEDY_MAX = 24
BEAM_SIZE = 4
BEAM_MAX = 12
SPEC_GAMMA = 5
SPEC_LENIENCE = 1.0
GAIN = 2.0  # weight matrices ~ N(0, (GAIN / sqrt(fan_in))^2), see build_model
REDRAW_SEED = 4  # of the redraw: varied greedy paths that the EOS scale ends at 2 different steps


# ---- the venv -------------------------------------------------------------------------------------------

def ensure_venv() -> Path:
    """Create the throwaway venv when it lacks spear-tts-pytorch; returns its python."""
    py = VENV / "bin" / "python"
    if py.exists() and subprocess.run([str(py), "-c", "import spear_tts_pytorch.attend"],
                                      capture_output=True).returncode == 0:
        return py
    VENV.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    constraints = VENV / "constraints.txt"
    constraints.write_text(TORCH + "\n")
    pip = [str(VENV / "bin" / "pip"), "install", "-q"]
    subprocess.run(pip + [TORCH], check=True)
    subprocess.run(pip + ["--no-deps"] + NO_DEPS, check=True)
    subprocess.run(pip + ["-c", str(constraints)] + DEPS, check=True)
    return py


class _StubModule(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Stub(f"{self.__name__}.{name}")


class _Stub:
    """Any attribute of a stubbed package: usable as a base class or a default, fails when called."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{self._name} is stubbed in the Spear-TTS fixture venv")

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Stub(f"{self._name}.{name}")

    def __mro_entries__(self, bases):
        return (object,)


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in STUBBED:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _StubModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


def install_stubs() -> None:
    """Hand out empty modules for torchaudio, torchvision, fairseq and wandb (see the module docstring)."""
    if not any(isinstance(f, _StubFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _StubFinder())


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def reexec_in_venv() -> None:
    """Build the venv if needed and run this same command inside it."""
    py = ensure_venv()
    os.execv(str(py), [str(py), *sys.argv])


# ---- the model and its references (inside the venv) -----------------------------------------------------

def build_model(torch, spear):
    """The tiny model with upstream's init, then every weight matrix redrawn at twice the usual scale and
    every RMSNorm gamma drawn around 1: at upstream's own init a random decoder's residual stream is
    dominated by the fed-back token's (tied) embedding and greedy decoding repeats one token forever,
    which would make the greedy references weak tests."""
    torch.manual_seed(0)
    model = spear.TextToSemantic(**KWARGS)
    g = torch.Generator().manual_seed(REDRAW_SEED)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif p.ndim == 2 and not name.startswith(("token_emb.", "to_logits.", "semantic_token_emb.")):
                p.copy_(torch.randn(p.shape, generator=g) * GAIN / p.shape[1] ** 0.5)  # [out, in]
    return model


def inputs(torch):
    """Text ids [4, 11] (0-padded, no EOS) and teacher-forced semantic prefixes [4, 10] (0-padded)."""
    g = torch.Generator().manual_seed(2)
    n_text, n_sem = KWARGS["num_text_token_ids"], KWARGS["num_semantic_token_ids"]
    src = torch.zeros(len(SRC_LENGTHS), max(SRC_LENGTHS), dtype=torch.long)
    for i, n in enumerate(SRC_LENGTHS):
        src[i, :n] = torch.randint(1, n_text, (n,), generator=g)  # 0 is the text pad
    tgt = torch.zeros(len(TF_LENGTHS), max(TF_LENGTHS), dtype=torch.long)
    for i, n in enumerate(TF_LENGTHS):
        tgt[i, :n] = torch.randint(0, n_sem, (n,), generator=g)  # every semantic id is a real token
    return src, tgt


def train_one_step(torch, spear, model, work: Path):
    """Upstream's own trainer after one real step (so the checkpoint holds real Adam state)."""
    from torch.utils.data import Dataset

    class Pairs(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            g = torch.Generator().manual_seed(100 + i)
            semantic = torch.randint(0, KWARGS["num_semantic_token_ids"], (6,), generator=g)
            text = torch.randint(1, KWARGS["num_text_token_ids"], (5,), generator=g)
            return semantic, text

    trainer = spear.TextToSemanticTrainer(
        model, num_train_steps=1, num_warmup_steps=1, batch_size=2, dataset=Pairs(), valid_frac=0.0,
        results_folder=str(work), force_clear_prev_results=True, save_model_every=10**9,
        save_results_every=10**9, log_every=10**9, freeze_encoder_layers_below=1)
    trainer.train_step()
    return trainer


def greedy(model, src, max_length, **kw):
    return model.generate(src, source_type="text", target_type="speech", temperature=0.0,
                          max_length=max_length, **kw)


def eos_steps(tokens, eos: int) -> list[int]:
    """Index of each row's first EOS, or -1."""
    out = []
    for row in tokens.tolist():
        out.append(row.index(eos) if eos in row else -1)
    return out


def tune_eos(torch, model, src) -> float:
    """Scale the speech EOS embedding row (tied to its logit) so that greedy decoding of the inputs, one by
    one, ends >= 2 rows at different steps in [2, GREEDY_MAX - 4] and leaves >= 1 row running.

    Scaling the row by f scales the EOS logit by f and changes nothing else before a row's first EOS, so
    the first EOS step under f follows from one greedy run of the untouched model (up to its own first
    EOS, if any): the first step where f * eos_logit exceeds the best other logit.  The chosen f is then
    checked by running upstream again."""
    eos = KWARGS["num_semantic_token_ids"]
    w = model.token_emb["speech"].weight
    base = w[eos].detach().clone()
    rows = []
    for r, n in enumerate(SRC_LENGTHS):
        out = greedy(model, src[r:r + 1, :n], GREEDY_MAX)
        known = eos_steps(out, eos)[0] + 1 or GREEDY_MAX  # steps whose logits the untouched run predicts
        logits = model(src[r:r + 1, :n], out[:, :known], source_type="text", target_type="speech")[0, :known]
        other = torch.cat([logits[:, :eos], logits[:, eos + 1:]], dim=-1).amax(dim=-1)  # [known]
        rows.append((logits[:, eos], other))
    grid = sorted((round(0.05 * i, 2) for i in range(-120, 121) if i), key=lambda f: abs(f - 1))
    for factor in grid:
        steps = []
        for le, other in rows:
            hit = (factor * le > other).nonzero()
            steps.append(int(hit[0]) if len(hit) else (-1 if len(le) == GREEDY_MAX else None))
        if None in steps:
            continue  # a row would run past the untouched run's EOS: not predicted
        ended = [s for s in steps if 2 <= s <= GREEDY_MAX - 4]
        if len(set(ended)) >= 2 and -1 in steps:
            with torch.no_grad():
                w[eos] = base * factor
            got = [eos_steps(greedy(model, src[r:r + 1, :n], GREEDY_MAX), eos)[0]
                   for r, n in enumerate(SRC_LENGTHS)]
            assert got == steps, (got, steps)
            print(f"EOS row scaled by {factor}: first EOS steps {steps}")
            return factor
    raise SystemExit("no EOS scale gives the wanted mix of ended and running rows")


class CaptureMaskAfterEos:
    """Wraps upstream's `mask_after_eos` to keep its input (the raw sequences, post-EOS tokens included)."""

    def __init__(self, module):
        self.module, self.inner, self.seen = module, module.mask_after_eos, []

    def __enter__(self):
        def wrapped(target, eos_id, pad_id):
            self.seen.append(target.clone())
            return self.inner(target, eos_id, pad_id)

        self.module.mask_after_eos = wrapped
        return self

    def __exit__(self, *exc):
        self.module.mask_after_eos = self.inner


def teacher_forced(torch, model, src, tgt, lengths):
    """Upstream's forward (full depth) and the early-exit head on the path spec decoding drafts with:
    logits [b, t + 1, V + 1] each (position 0 is the start vector)."""
    from einops import repeat

    t = tgt.shape[1]
    tmask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    tmask = torch.nn.functional.pad(tmask, (1, 0), value=True)  # the start vector is always attended
    logits = model(src, tgt, source_type="text", target_type="speech", target_mask=tmask)

    # the exit head, as `generate(spec_decode=True)` computes it (early_exit_at_layer)
    from spear_tts_pytorch.spear_tts_pytorch import set_eos_id

    s = set_eos_id(src, model.eos_id["text"], pad_id=model.pad_id["text"])
    smask = s != model.pad_id["text"]
    memory = model.source_transformer(model.token_emb["text"](s), mask=smask)
    x = torch.cat((repeat(model.start_token["speech"], "d -> b 1 d", b=src.shape[0]),
                   model.token_emb["speech"](tgt)), dim=1)
    h = model.target_transformer(x, mask=tmask, context=memory, context_mask=smask,
                                 early_exit_at_layer=model.early_exit_layer)
    exit_logits = model.to_early_exit_semantic_logits(h)

    # and as upstream's training loss computes it (the returned hiddens): must agree
    _, hiddens = model.target_transformer(x, mask=tmask, context=memory, context_mask=smask, return_hiddens=True)
    again = model.to_early_exit_semantic_logits(hiddens[model.early_exit_layer - 1])
    assert torch.equal(again, exit_logits), "the two early-exit paths of upstream disagree"
    return logits, exit_logits


def spec_with_exact_draft(torch, spear, model, src) -> bool:
    """Whether upstream's `spec_decode` equals its greedy decoding when the draft can never be rejected: the
    same weights with the early exit after the last block and an exit head that computes exactly the full
    model's logits (its feed-forward zeroed, the final norm's gamma, the tied embedding).  True here while
    the real (rejecting) draft gives other tokens shows the divergence comes from upstream's rejection
    bookkeeping (see the README)."""
    from spear_tts_pytorch.spear_tts_pytorch import mask_after_eos

    exact = spear.TextToSemantic(**{**KWARGS, "target_early_exit_layer": KWARGS["target_depth"]})
    exact.load_state_dict(model.state_dict())
    exact.eval()
    head = exact.to_early_exit_semantic_logits
    for p in head[0].fn.parameters():
        p.zero_()
    head[1].gamma.copy_(exact.target_transformer.final_norm.gamma)
    head[2].weight.copy_(exact.token_emb["speech"].weight)
    same = True
    for r, n in enumerate(SRC_LENGTHS):
        plain = greedy(exact, src[r:r + 1, :n], GREEDY_MAX)
        spec = greedy(exact, src[r:r + 1, :n], GREEDY_MAX, spec_decode=True, spec_decode_gamma=SPEC_GAMMA)
        same &= torch.equal(spec[:, :plain.shape[1]], plain) and bool((spec[:, plain.shape[1]:] == -1).all())
    eos = KWARGS["num_semantic_token_ids"]
    batch_plain = mask_after_eos(greedy(exact, src, GREEDY_MAX), eos, KWARGS["semantic_pad_id"])
    batch_spec = greedy(exact, src, GREEDY_MAX, spec_decode=True, spec_decode_gamma=SPEC_GAMMA)
    return same and torch.equal(batch_spec, batch_plain)


def path_margin(torch, model, src, tokens) -> float:
    """Smallest top-1 minus top-2 logit gap along each row's greedy path up to its EOS (how robust the
    reference is to float noise)."""
    eos = KWARGS["num_semantic_token_ids"]
    gaps = []
    for r in range(tokens.shape[0]):
        row = tokens[r].tolist()
        n = row.index(eos) + 1 if eos in row else len(row)
        tgt = tokens[r:r + 1, :n].clamp(min=0)
        logits = model(src[r:r + 1], tgt, source_type="text", target_type="speech")[0, :n]
        top = logits.topk(2, dim=-1).values
        gaps.append(float((top[:, 0] - top[:, 1]).min()))
    return min(gaps)


def beam_score(torch, model, src, raw) -> list[float]:
    """Sum of log-softmax (temperature 1) of every token of each raw beam, post-EOS tokens included
    (upstream's ranking score)."""
    logits = model(src, raw, source_type="text", target_type="speech")[:, :-1]  # [b, n, V]
    lp = logits.log_softmax(dim=-1).gather(-1, raw[..., None])[..., 0]
    return lp.sum(dim=-1).tolist()


def build(out: Path) -> None:
    os.environ.setdefault("TQDM_DISABLE", "1")  # upstream wraps every decode loop in a progress bar
    install_stubs()
    import numpy as np
    import spear_tts_pytorch as spear
    import spear_tts_pytorch.spear_tts_pytorch as spear_mod
    import torch

    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    work = Path("/tmp/sonorant-spear-fixtures-work")
    work.mkdir(parents=True, exist_ok=True)  # the trainer clears it
    eos = KWARGS["num_semantic_token_ids"]

    model = build_model(torch, spear)
    src, tgt = inputs(torch)
    trainer = train_one_step(torch, spear, model, work)
    model.eval()
    factor = tune_eos(torch, model, src)
    ckpt = out / CKPT_NAME
    trainer.save(str(ckpt))  # upstream's own save: {model, optim, scheduler}, the tuned weights included
    (out / "spear_tiny.json").write_text(json.dumps(KWARGS, indent=2) + "\n")

    # everything below runs on the model as upstream loads the file
    model = spear.TextToSemantic(**KWARGS)
    loaded = model.load(str(ckpt))
    model.eval()
    assert set(loaded) == {"model", "optim", "scheduler"}, sorted(loaded)

    ref: dict[str, np.ndarray] = {}
    with torch.no_grad():
        s_in = spear_mod.set_eos_id(src, model.eos_id["text"], pad_id=model.pad_id["text"])
        ref["src_ids"] = src.numpy()
        ref["src_lengths"] = np.array(SRC_LENGTHS)
        ref["src_in"] = s_in.numpy()
        ref["src_in_lengths"] = (s_in != 0).sum(-1).numpy()

        # teacher forcing: the padded batch in float32 (as upstream runs) and float64 (the exact values),
        # each row alone in float64
        logits, exit_logits = teacher_forced(torch, model, src, tgt, TF_LENGTHS)
        ref["tf_tgt"] = tgt.numpy()
        ref["tf_lengths"] = np.array(TF_LENGTHS)
        ref["tf_logits"] = logits.numpy()
        ref["tf_exit_logits"] = exit_logits.numpy()
        # a fresh copy: rotary-embedding-torch caches the angles of the first call, a float32 model's cache
        # would keep float32 angles after .double()
        model64 = spear.TextToSemantic(**KWARGS)
        model64.load(str(ckpt))
        model64.double().eval()
        lg64, ex64 = teacher_forced(torch, model64, src, tgt, TF_LENGTHS)
        ref["tf_logits_f64"] = lg64.numpy()
        ref["tf_exit_logits_f64"] = ex64.numpy()
        f32_vs_f64 = max(float((logits - lg64).abs().max()), float((exit_logits - ex64).abs().max()))
        single_diff = single_diff64 = 0.0
        for r, (n, m) in enumerate(zip(SRC_LENGTHS, TF_LENGTHS)):
            lg, ex = teacher_forced(torch, model, src[r:r + 1, :n], tgt[r:r + 1, :m], [m])
            single_diff = max(single_diff, float((lg[0] - logits[r, :m + 1]).abs().max()),
                              float((ex[0] - exit_logits[r, :m + 1]).abs().max()))
            lg, ex = teacher_forced(torch, model64, src[r:r + 1, :n], tgt[r:r + 1, :m], [m])
            ref[f"tf_single_logits_f64_{r}"] = lg.numpy()
            ref[f"tf_single_exit_logits_f64_{r}"] = ex.numpy()
            single_diff64 = max(single_diff64, float((lg[0] - lg64[r, :m + 1]).abs().max()),
                                float((ex[0] - ex64[r, :m + 1]).abs().max()))

        # greedy: the batch and each row alone
        g_batch = greedy(model, src, GREEDY_MAX)
        ref["greedy_max_length"] = np.array(GREEDY_MAX)
        ref["greedy_tokens"] = g_batch.numpy()
        ref["greedy_eos_step"] = np.array(eos_steps(g_batch, eos))
        singles = []
        for r, n in enumerate(SRC_LENGTHS):
            one = greedy(model, src[r:r + 1, :n], GREEDY_MAX)
            ref[f"greedy_single_{r}"] = one.numpy()
            singles.append(one)
        margin = min(path_margin(torch, model, src[r:r + 1, :n], singles[r].clamp(min=0))
                     for r, n in enumerate(SRC_LENGTHS))
        ref["greedy_min_margin"] = np.array(margin, dtype=np.float32)

        # spec_decode under greedy (temperature 0): the batch and each row alone
        spec = dict(spec_decode=True, spec_decode_gamma=SPEC_GAMMA, spec_decode_lenience=SPEC_LENIENCE)
        torch.manual_seed(3)
        spec_batch_error = None
        try:
            ref["spec_tokens"] = greedy(model, src, GREEDY_MAX, **spec).numpy()
        except IndexError as exc:  # upstream pads rows with semantic_pad_id (-1) and embeds the padding
            spec_batch_error = f"{type(exc).__name__}: {exc}"
        for r, n in enumerate(SRC_LENGTHS):
            ref[f"spec_single_{r}"] = greedy(model, src[r:r + 1, :n], GREEDY_MAX, **spec).numpy()
        ref["spec_gamma"] = np.array(SPEC_GAMMA)
        ref["spec_lenience"] = np.array(SPEC_LENIENCE)
        exact_draft = spec_with_exact_draft(torch, spear, model, src)

        # beam search, 4 beams, temperature 1: the batch and each row alone
        ref["beam_size"] = np.array(BEAM_SIZE)
        ref["beam_max_length"] = np.array(BEAM_MAX)
        beam = dict(temperature=1.0, max_length=BEAM_MAX, beam_search_decode=True, beam_size=BEAM_SIZE)
        with CaptureMaskAfterEos(spear_mod) as cap:
            b_out = model.generate(src, source_type="text", target_type="speech", **beam)
        ref["beam_tokens"] = b_out.numpy()
        ref["beam_raw"] = cap.seen[-1].numpy()
        ref["beam_raw_score"] = np.array(beam_score(torch, model, src, cap.seen[-1]), dtype=np.float32)
        for r, n in enumerate(SRC_LENGTHS):
            with CaptureMaskAfterEos(spear_mod) as cap:
                one = model.generate(src[r:r + 1, :n], source_type="text", target_type="speech", **beam)
            ref[f"beam_single_{r}"] = one.numpy()
            ref[f"beam_single_raw_{r}"] = cap.seen[-1].numpy()

    np.savez_compressed(out / "reference.npz", **ref)
    summary = summarize(ref, factor, ckpt, torch)
    summary.update(tf_f32_vs_f64_max_abs_diff=f32_vs_f64, tf_batch_vs_single_max_abs_diff_f32=single_diff,
                   tf_batch_vs_single_max_abs_diff_f64=single_diff64, spec_with_exact_draft_equals_greedy=exact_draft,
                   logits_max_abs=float(logits.abs().max()), spec_batch_error=spec_batch_error)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


def summarize(ref, factor, ckpt: Path, torch) -> dict:
    """Facts the README quotes (checked against upstream at build time)."""
    n = len(SRC_LENGTHS)
    eos = KWARGS["num_semantic_token_ids"]

    def strip(row):
        row = list(row)
        return row[:row.index(eos) + 1] if eos in row else row

    greedy_single = [strip(ref[f"greedy_single_{r}"][0]) for r in range(n)]
    greedy_batch = [strip(ref["greedy_tokens"][r]) for r in range(n)]
    spec_single = [strip(ref[f"spec_single_{r}"][0]) for r in range(n)]
    spec_batch = [strip(ref["spec_tokens"][r]) for r in range(n)] if "spec_tokens" in ref else None
    beam_single = [strip(ref[f"beam_single_{r}"][0]) for r in range(n)]
    beam_batch = [strip(ref["beam_tokens"][r]) for r in range(n)]
    pkg = torch.load(ckpt, map_location="cpu", weights_only=False)
    return {
        "eos_row_factor": round(factor, 4),
        "checkpoint_keys": sorted(pkg),
        "model_tensors": len(pkg["model"]),
        "optim_state_tensors": len(pkg["optim"]["state"]),
        "greedy_eos_step": ref["greedy_eos_step"].tolist(),
        "greedy_min_margin": float(ref["greedy_min_margin"]),
        "greedy_batch_equals_single": greedy_batch == greedy_single,
        "spec_single_equals_greedy": spec_single == greedy_single,
        "spec_batch_equals_greedy": None if spec_batch is None else spec_batch == greedy_single,
        "beam_batch_equals_single": beam_batch == beam_single,
        "beam_raw_score": [round(float(s), 4) for s in ref["beam_raw_score"]],
        "greedy_tokens_width": int(ref["greedy_tokens"].shape[1]),
        "beam_tokens_width": int(ref["beam_tokens"].shape[1]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "speartts")
    ap.add_argument("--setup-only", action="store_true", help="only build the venv")
    args = ap.parse_args()
    if args.setup_only:
        print(ensure_venv())
        return
    if not in_venv():
        reexec_in_venv()
    build(args.out)


if __name__ == "__main__":
    main()
