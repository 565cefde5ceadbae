"""Build the NVIDIA DeepLearningExamples (DLE) Tacotron2 + WaveGlow parity fixtures with DLE's own code.

NOT a project module: it runs in a throwaway venv with DLE's requirements, never in sonorant's own
environment, and it does not import sonorant.  It builds random-init models with DLE's classes and
configs, trains them one real step the way DLE's ``train.py`` does, saves them with ``train.py``'s own
``save_checkpoint``, loads them back with ``inference.py``'s own ``load_and_setup_model`` and stores what
DLE's inference computes as ``.npz`` files, for sonorant's loader and models to be checked against.
The recording half (prenet masks, gate tuning, WaveGlow draws) lives in ``tools/dle_references.py``.

Setup (venv ~2 minutes; on this 2-core machine the tiny run takes ~50 s, ``--full`` ~8 minutes and 1.8 GB)::

    git --git-dir=<mirror of NVIDIA/DeepLearningExamples> archive HEAD PyTorch/SpeechSynthesis/Tacotron2 \\
        | tar x -C /tmp/dle                     # used: 729963dd47e7c8bd462ad10bfac7a7b0b604e6dd (2024-04-04)
    python3.11 -m venv /tmp/dle-venv
    echo "torch==2.13.0" > /tmp/dle-constraints.txt   # anything looser pulls GBs of CUDA wheels
    /tmp/dle-venv/bin/pip install torch==2.13.0 librosa scipy numpy inflect unidecode matplotlib \\
        -c /tmp/dle-constraints.txt
    D=/tmp/dle/PyTorch/SpeechSynthesis/Tacotron2
    /tmp/dle-venv/bin/python tools/dle_fixtures.py --dle $D                 # -> tests/fixtures/tacotron2
    /tmp/dle-venv/bin/python tools/dle_fixtures.py --dle $D --full          # -> ~/.cache/sonorant-fixtures/dle-full

Nothing upstream is edited.  DLE is CUDA-only in a few places; this script patches, at run time only:
``dllogger`` (a git-only package that ``train.py`` / ``inference.py`` import) is stubbed; while the loss is
built and the checkpoint saved, ``Tensor.cuda`` / ``Module.cuda`` are the identity and
``torch.cuda.get_rng_state`` returns a stand-in 16-byte Philox state (seed, offset 0), so the stored
``cuda_rng_state_all`` is synthetic (same dtype/shape layout as a real one).  ``to_gpu`` already keeps
tensors on the CPU when CUDA is absent.  And DLE's ``tacotron2_parser`` rebinds its module-global
``symbols`` (``global symbols``), so it works once per process: ``reset_symbols`` restores it before each use.

Checkpoint layout notes (from DLE's git history, not from downloaded files): the current ``train.py`` saves
the dict below, with ``module.`` keys when trained with DDP (multi-GPU; train.py skips DDP on one GPU, so
un-prefixed keys happen too).  The 2019 ``train.py`` (current when the NGC 19.09 checkpoints, dated
2019-04-27, were made) saved only ``{'epoch', 'config', 'state_dict'}``, and its fp16 runs kept the model
``.half()`` (BatchNorm, LSTMCell in fp32); the torch.hub entrypoints also strip ``module.1.``.  WaveGlow
state dicts keep weight norm (``weight_g`` / ``weight_v``); inference.py removes it after loading.

What it builds (tiny: ``--out``, default tests/fixtures/tacotron2; ``--full``: DLE default sizes):

* ``tacotron2_tiny.pt`` / ``waveglow_tiny.pt`` (``--full``: ``tacotron2_full.pt``, ``waveglow256_full.pt``
  (``--wn-channels 256``), ``waveglow512_full.pt`` (default 512)).  Configs come from DLE's own arg parsers
  (``models.model_parser`` + ``models.get_model_config``) with the flags in ``TACOTRON2_FLAGS`` /
  ``WAVEGLOW_FLAGS``; models from ``models.get_model(..., uniform_initialize_bn_weight=True)`` as train.py
  builds them.  Each model is wrapped in a real ``DistributedDataParallel`` (gloo, world size 1), so the
  ``state_dict`` keys carry ``module.`` exactly as in multi-GPU DLE checkpoints; one Adam step (train.py's
  lr / weight decay / gradient clipping from ``scripts/train_*.sh``) on a fake batch with DLE's loss fills
  the ``optimizer`` state; ``train.save_checkpoint`` writes the dict (``epoch``, ``cuda_rng_state_all``,
  ``random_rng_states_all``, ``config``, ``state_dict``, ``optimizer``, ``scaler`` ({} without AMP)).
* Random weights made non-trivial before that step: Tacotron2 BatchNorm running stats and affine
  parameters are randomized (eval-mode BN is not the identity).  WaveGlow's zero-init ``end`` convs get
  normal weights (std 0.2/sqrt(fan in)) and biases, every weight-normed conv a fresh direction ``v`` and a
  gain ``g`` of 0.75-1.25 x its default-init row norm, each invertible 1x1 conv a perturbation of its
  orthonormal init (so its inverse is not its transpose), the upsampler normal * 0.05 weights.
* Size compromises, tiny only.  WaveGlow's upsampler is ConvTranspose1d(80, 80, 1024): 6.55 M weights,
  26 MB, whatever the WN sizes.  In ``waveglow_tiny.pt`` that weight is an overlapping ``as_strided`` view
  (W[i, o, k] = s[13 i + 7 o + k], s random normal) of a 2.6 k-element storage, which ``torch.save`` stores
  as is (~10 kB); it loads as an ordinary (non-contiguous) tensor.  And WaveGlow's one Adam step trains only
  the ``WN.*.end`` and ``convinv`` parameters (the rest frozen), so the Adam moments stay small; the
  ``param_groups`` still list every parameter, as train.py's ``Adam(model.parameters())`` does.  Tacotron2's
  step trains everything.  ``--full`` keeps the upsampler contiguous (same partial WaveGlow step).
* The gate, after the step.  A random decoder's gate logit is flat after ~8 steps, with per-utterance
  offsets larger than its wobble, so no bias alone stops every utterance in 15-80 steps (measured: the
  feasible interval is empty).  So decoder-LSTM unit 0 becomes a step counter (zero input/recurrent
  rows; input/forget/output gate biases 6, cell-candidate bias atanh(0.02): its cell grows ~0.02 per
  step), the gate reads it with weight 2 and its other weights are scaled (8 here; 4 and 16 are tried
  next), and ``decoder.gate_layer.linear_layer.bias`` is then chosen by a deterministic grid search
  (``tune_gate``) so that every reference utterance stops after 15-80 steps (threshold 0.5), each at a
  different step.  The edited model is what is saved (its Adam moments are from before the edit).
* ``tacotron2_<size>_ref.npz``: DLE's ``Tacotron2.infer`` on one utterance at a time, in eval mode.  DLE's
  prenet keeps dropout (p=0.5, ``training=True``) at inference, so ``Prenet.forward`` is replaced while
  recording by one that draws Bernoulli(0.5) masks and computes ``relu(linear(x)) * mask / 0.5`` -- the
  script first checks this equals upstream's forward bit for bit on masks recovered from an upstream run.
  ``encoder.infer`` / ``decoder.infer`` are wrapped to record memory, pre-postnet mel and gate logits.  Plus
  one batched run (padded, sorted by length, longest first, as DLE requires; finished rows keep decoding).
* ``waveglow_<size>_ref.npz``: DLE's ``WaveGlow.infer`` (weight norm removed, eval: as inference.py loads
  it) on Tacotron2's ``mel_postnet_0`` (sigma 0.9, inference.py's default) and on a random mel of 50
  frames (sigma 0.6), with the Gaussian draws recorded (``torch.randn`` wrapped during the call), DLE's
  ``Denoiser`` bias spectrum and its output at strengths 0.01 and 0.1.  The script checks that
  ``infer_onnx(mel, z', sigma)`` reproduces ``infer(mel, sigma)`` when z' = z with channels 4: multiplied
  by sigma (infer_onnx scales only its first n_remaining_channels = 4 by sigma, infer scales every draw),
  and that the unscaled z does not.
* ``README.md``: generated; files, sizes, configs, every npz key with shape and dtype.

Determinism: seeds are fixed before every model build, step, draw and inference; rerunning with the same
torch version reproduces the arrays (checkpoint bytes too, up to torch.save's zip layout).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from dle_references import (  # tools/dle_references.py: the script's directory is on sys.path when run
    SEED,
    add_stop_counter,
    check_prenet_patch,
    log,
    patched,
    stop_steps,
    tacotron2_refs,
    tune_gate,
    utterances,
    waveglow_refs,
)
from torch.nn.parallel import DistributedDataParallel

TACOTRON2_FLAGS = {
    "tiny": "--symbols-embedding-dim 32 --encoder-embedding-dim 32 --attention-rnn-dim 64 "
    "--decoder-rnn-dim 64 --prenet-dim 32 --attention-dim 16 --attention-location-n-filters 8 "
    "--attention-location-kernel-size 31 --postnet-embedding-dim 32 --postnet-kernel-size 5 "
    "--postnet-n-convolutions 5 --max-decoder-steps 200",
    "full": "",  # DLE defaults (max_decoder_steps 2000)
}
WAVEGLOW_FLAGS = {"tiny": "--wn-channels 16 --wn-layers 3 --wn-kernel-size 3", "256": "--wn-channels 256", "512": ""}
# lr / weight decay / clip from scripts/train_tacotron2.sh and scripts/train_waveglow.sh
TRAIN = {"Tacotron2": (1e-3, 1e-6, 1.0), "WaveGlow": (1e-4, 0.0, 3.4028234663852886e38)}


def import_dle(root: Path) -> types.SimpleNamespace:
    """Import DLE's modules from its source tree (with a stub for the git-only ``dllogger``)."""
    stub = types.ModuleType("dllogger")
    for name in ("init", "log", "metadata", "flush"):
        setattr(stub, name, lambda *a, **k: None)
    for name in ("StdOutBackend", "JSONStreamBackend", "Verbosity"):
        setattr(stub, name, type(name, (), {"DEFAULT": 0, "VERBOSE": 1}))
    sys.modules.setdefault("dllogger", stub)
    sys.path.insert(0, str(root))
    import inference
    import loss_functions
    import models
    import train
    from tacotron2 import arg_parser as t2args
    from tacotron2 import data_function as t2data
    from tacotron2 import model as t2model
    from waveglow import data_function as wgdata
    from waveglow import denoiser

    return types.SimpleNamespace(
        models=models, train=train, inference=inference, loss_functions=loss_functions,
        t2model=t2model, t2data=t2data, t2args=t2args, symbols=list(t2args.symbols), wgdata=wgdata,
        Denoiser=denoiser.Denoiser,
    )


@contextlib.contextmanager
def no_cuda() -> Iterator[None]:
    """DLE's CUDA-only calls made CPU no-ops (loss ``.cuda()``, rng-state gathering in save_checkpoint)."""
    philox = torch.tensor(list(SEED.to_bytes(8, "little")) + [0] * 8, dtype=torch.uint8)
    with contextlib.ExitStack() as stack:
        stack.enter_context(patched(torch.Tensor, "cuda", lambda self, *a, **k: self))
        stack.enter_context(patched(torch.nn.Module, "cuda", lambda self, *a, **k: self))
        stack.enter_context(patched(torch.cuda, "get_rng_state", lambda *a, **k: philox.clone()))
        stack.enter_context(patched(torch.cuda, "synchronize", lambda *a, **k: None))
        yield


@contextlib.contextmanager
def process_group() -> Iterator[None]:
    with tempfile.TemporaryDirectory() as tmp:
        dist.init_process_group("gloo", init_method=f"file://{tmp}/store", rank=0, world_size=1)
        try:
            yield
        finally:
            dist.destroy_process_group()


def reset_symbols(dle: types.SimpleNamespace) -> None:
    """DLE's tacotron2_parser rebinds its module-global ``symbols`` to an argument group (``global symbols``),
    so a second call in one process fails with ``len(_ArgumentGroup)``: restore the list before each call."""
    dle.t2args.symbols = dle.symbols


def model_config(dle: types.SimpleNamespace, name: str, flags: str) -> dict[str, Any]:
    reset_symbols(dle)
    parser = dle.models.model_parser(name, argparse.ArgumentParser(add_help=False))
    args, _ = parser.parse_known_args(flags.split())
    return dle.models.get_model_config(name, args)


# ----------------------------------------------------------------------------------------------- weights
def randomize_tacotron2(model: torch.nn.Module) -> None:
    g = torch.Generator().manual_seed(SEED + 1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.3)
            m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)


def randomize_waveglow(model: torch.nn.Module, compact_upsample: bool) -> torch.Tensor | None:
    """Random non-trivial weights; with ``compact_upsample`` returns the upsampler weight as a small strided view."""
    g = torch.Generator().manual_seed(SEED + 2)
    compact = None
    with torch.no_grad():
        up = model.upsample.weight
        if compact_upsample:  # see the module docstring: a ~2.6 k-element storage seen as [80, 80, 1024]
            c_in, c_out, k = up.shape
            storage = torch.randn((c_in - 1) * 13 + (c_out - 1) * 7 + k, generator=g) * 0.05
            compact = storage.as_strided(up.shape, (13, 7, 1))
            up.copy_(compact)  # trained and broadcast contiguous; swapped in just before saving
        else:
            up.copy_(torch.randn(up.shape, generator=g) * 0.05)
        model.upsample.bias.copy_(torch.randn(model.upsample.bias.shape, generator=g) * 0.05)
        for wn in model.WN:
            wn.end.weight.copy_(torch.randn(wn.end.weight.shape, generator=g) * 0.2 / wn.end.weight.shape[1] ** 0.5)
            wn.end.bias.copy_(torch.randn(wn.end.bias.shape, generator=g) * 0.05)
            for m in wn.modules():
                if hasattr(m, "weight_g"):
                    gain = torch.rand(m.weight_g.shape, generator=g) * 0.5 + 0.75
                    m.weight_g.copy_(m.weight_g * gain)
                    m.weight_v.copy_(torch.randn(m.weight_v.shape, generator=g))
        for conv in model.convinv:
            w = conv.conv.weight
            w.copy_(w + torch.randn(w.shape, generator=g) * 0.05)
    return compact


# ------------------------------------------------------------------------------------------- training
def fake_batch(dle: types.SimpleNamespace, name: str, config: dict[str, Any]) -> tuple[Any, Any]:
    g = torch.Generator().manual_seed(SEED + 3)
    n_mel = config["n_mel_channels"]
    if name == "Tacotron2":  # TextMelCollate's output layout: sorted by text length, longest first
        lengths, frames = torch.tensor([12, 9]), torch.tensor([30, 22])
        text = torch.zeros(2, 12, dtype=torch.long)
        for i, n in enumerate(lengths):
            text[i, :n] = torch.randint(1, config["n_symbols"], (int(n),), generator=g)
        mel = torch.randn(2, n_mel, 30, generator=g) - 4.0
        gate = torch.zeros(2, 30)
        for i, n in enumerate(frames):
            mel[i, :, n:] = 0
            gate[i, n - 1 :] = 1
        x, y, _ = dle.t2data.batch_to_gpu((text, lengths, mel, gate, frames, lengths.sum()))
        return x, y
    mel = torch.randn(2, n_mel, 16, generator=g) - 4.0
    audio = torch.randn(2, 4000, generator=g) * 0.1
    x, y, _ = dle.wgdata.batch_to_gpu((mel, audio, torch.tensor([4000, 4000])))
    return x, y


def train_and_save(
    dle: types.SimpleNamespace, name: str, model: torch.nn.Module, config: dict[str, Any], path: Path,
    trainable: Callable[[str], bool] = lambda key: True, before_save: Callable[[], None] = lambda: None,
) -> None:
    """One DLE training step through DistributedDataParallel, then DLE's ``save_checkpoint``."""
    lr, weight_decay, clip = TRAIN[name]
    for key, p in model.named_parameters():
        p.requires_grad_(trainable(key))
    torch.manual_seed(SEED + 4)
    with process_group():
        ddp = DistributedDataParallel(model)
        optimizer = torch.optim.Adam(ddp.parameters(), lr=lr, weight_decay=weight_decay)
        scaler = torch.cuda.amp.GradScaler(enabled=False)  # as train.py, without --amp
        with no_cuda():
            criterion = dle.loss_functions.get_loss_function(name, 1.0)
        x, y = fake_batch(dle, name, config)
        ddp.train()
        ddp.zero_grad()
        loss = criterion(ddp(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ddp.parameters(), clip)
        optimizer.step()
        ddp.zero_grad(set_to_none=True)
        log(f"{name}: one training step, loss {loss.item():.4f}")
        for p in model.parameters():
            p.requires_grad_(True)
        model.eval()
        before_save()
        with tempfile.TemporaryDirectory() as tmp, no_cuda():
            dle.train.save_checkpoint(ddp, optimizer, scaler, 0, config, tmp, name, 0, 1)
            shutil.copyfile(Path(tmp) / f"checkpoint_{name}_0.pt", path)
    log(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


def load_like_inference(dle: types.SimpleNamespace, name: str, flags: str, path: Path) -> torch.nn.Module:
    """inference.py's own loader (it parses the model flags from sys.argv)."""
    reset_symbols(dle)
    with patched(sys, "argv", ["inference.py", *flags.split()]):
        model = dle.inference.load_and_setup_model(
            name, argparse.ArgumentParser(add_help=False), str(path), False, True, forward_is_infer=True
        )
    return model


def build_tacotron2(dle: types.SimpleNamespace, size: str, out: Path) -> dict[str, np.ndarray]:
    flags = TACOTRON2_FLAGS[size]
    config = model_config(dle, "Tacotron2", flags)
    torch.manual_seed(SEED)
    model = dle.models.get_model("Tacotron2", config, cpu_run=True, uniform_initialize_bn_weight=True)
    randomize_tacotron2(model)
    utts = utterances(size)
    check_prenet_patch(dle, model.decoder.prenet)
    gate: dict[str, float] = {}
    path = out / f"tacotron2_{size}.pt"

    def stop_gate() -> None:  # after the step: Adam's first step moves every weight by ~lr, the counter rows too
        add_stop_counter(model.decoder)
        gate.update(tune_gate(dle, model, utts))

    train_and_save(dle, "Tacotron2", model, config, path, before_save=stop_gate)
    loaded = load_like_inference(dle, "Tacotron2", flags, path)
    assert loaded.decoder.gate_layer.linear_layer.bias.item() == gate["gate_bias"]
    refs = tacotron2_refs(dle, loaded, utts, gate)
    assert [refs[f"mel_{i}"].shape[1] for i in range(len(utts))] == stop_steps(dle, model, utts)
    return refs


def build_waveglow(dle: types.SimpleNamespace, tag: str, file_tag: str, out: Path, mel0: np.ndarray
                   ) -> dict[str, np.ndarray]:
    flags = WAVEGLOW_FLAGS[tag]
    config = model_config(dle, "WaveGlow", flags)
    torch.manual_seed(SEED)
    model = dle.models.get_model("WaveGlow", config, cpu_run=True, uniform_initialize_bn_weight=True)
    compact = randomize_waveglow(model, compact_upsample=tag == "tiny")
    path = out / f"{file_tag}.pt"

    def swap_in_compact_upsample() -> None:
        if compact is not None:
            assert torch.equal(model.upsample.weight, compact)  # frozen in the step: unchanged
            model.upsample.weight.data = compact

    train_and_save(dle, "WaveGlow", model, config, path, trainable=lambda key: ".end." in key or "convinv" in key,
                   before_save=swap_in_compact_upsample)
    wg = load_like_inference(dle, "WaveGlow", flags, path)
    g = torch.Generator().manual_seed(SEED + 7)
    mels = [(torch.from_numpy(mel0)[None], 0.9), (torch.randn(1, 80, 50, generator=g) * 1.5 - 5.0, 0.6)]
    return waveglow_refs(dle, wg, mels)


# ------------------------------------------------------------------------------------------------ main
def write_readme(out: Path, npz: dict[str, dict[str, np.ndarray]], configs: dict[str, Any]) -> None:
    lines = ["# DLE Tacotron2 + WaveGlow parity fixtures", "",
             "Generated by `tools/dle_fixtures.py` (see its docstring: how, why, what was patched). Do not edit.", "",
             "| file | bytes |", "| --- | --- |"]
    lines += [f"| {p.name} | {p.stat().st_size} |" for p in sorted(out.iterdir()) if p.name != "README.md"]
    lines += ["", "`text_ref.json` (DLE's `text_to_sequence` ids of 215 sentences) is written by "
              "`tools/dle_text_fixtures.py`, not by this script."]
    for name, cfg in configs.items():
        lines += ["", f"## {name} config", "", f"`{cfg}`"]
    for name, arrays in npz.items():
        lines += ["", f"## {name}", "", "| key | shape | dtype |", "| --- | --- | --- |"]
        lines += [f"| {k} | {list(v.shape)} | {v.dtype} |" for k, v in arrays.items()]
    (out / "README.md").write_text("\n".join(lines) + "\n")


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    np.savez_compressed(path, **arrays)
    log(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, {len(arrays)} arrays)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dle", type=Path, required=True, help="DLE's PyTorch/SpeechSynthesis/Tacotron2 directory")
    ap.add_argument("--full", action="store_true", help="DLE default sizes instead of the tiny committed ones")
    ap.add_argument("--out", type=Path, default=None,
                    help="output directory (default tests/fixtures/tacotron2, or ~/.cache/sonorant-fixtures/dle-full)")
    args = ap.parse_args()
    out = args.out or (Path.home() / ".cache/sonorant-fixtures/dle-full" if args.full
                       else Path(__file__).resolve().parent.parent / "tests/fixtures/tacotron2")
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    torch.set_num_threads(min(8, torch.get_num_threads()))
    dle = import_dle(args.dle.resolve())
    size = "full" if args.full else "tiny"
    npz = {f"tacotron2_{size}_ref.npz": build_tacotron2(dle, size, out)}
    waveglows = {"tiny": "waveglow_tiny"} if size == "tiny" else {"256": "waveglow256_full", "512": "waveglow512_full"}
    mel0 = npz[f"tacotron2_{size}_ref.npz"]["mel_postnet_0"]
    for tag, file_tag in waveglows.items():
        npz[f"{file_tag}_ref.npz"] = build_waveglow(dle, tag, file_tag, out, mel0)
    for name, arrays in npz.items():
        save_npz(out / name, arrays)
    configs = {"Tacotron2": model_config(dle, "Tacotron2", TACOTRON2_FLAGS[size])}
    configs |= {f"WaveGlow {tag}": model_config(dle, "WaveGlow", WAVEGLOW_FLAGS[tag]) for tag in waveglows}
    write_readme(out, npz, configs)
    log(f"done in {time.perf_counter() - start:.1f} s -> {out}")


if __name__ == "__main__":
    main()
