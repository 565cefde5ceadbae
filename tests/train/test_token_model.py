"""The trainer's built-in "tokens" kind: a TokenTransformer with the guided-attention loss learns a tiny
text -> units corpus, its checkpoint exports as a token voice, and `load_voice` speaks it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sonorant.errors import ConfigError
from sonorant.train.config import parse_config
from sonorant.train.token_eval import export_run
from sonorant.train.token_model import build
from sonorant.train.trainer import Trainer

CODEC = Path(__file__).resolve().parents[1] / "fixtures" / "units" / "joe_reg_k64_f2.npz"
STACK = dict(dim=32, heads=4, head_dim=8, ffn_dim=64, ffn="geglu", gelu="exact", norm="rms", bias=False,
             positions="rotary")
OPTIONS = {
    "src_vocab": 256, "tgt_vocab": 66, "bos": 64, "eos": 65, "pad": 65, "start_vector": True,
    "early_exit_layer": 1, "max_target": 128,
    "encoder": {"layers": 1, "kv_heads": 4, "causal": False, **STACK},
    "decoder": {"layers": 2, "kv_heads": 2, "cross": True, "null_kv": True, **STACK},
    "attention_guide": 1.0, "codec": str(CODEC), "voice": "joe",
}


def corpus(path: Path, n: int = 12) -> Path:
    """Phoneme ids -> units that follow them in order (each id's units: 1 to 3 frames of (id * 7) mod 64)."""
    rng = np.random.default_rng(0)
    lines = []
    for i in range(n):
        ids = [int(x) for x in rng.integers(1, 120, size=int(rng.integers(4, 9)))]
        frames = [int(x) for x in rng.integers(1, 4, size=len(ids))]
        units = [(x * 7) % 64 for x, d in zip(ids, frames) for _ in range(d)]
        lines.append(json.dumps({"text": f"line {i}", "phonemes": ids, "durations": frames, "tokens": units}))
    path.write_text("\n".join(lines) + "\n")
    return path


def config(tmp: Path, steps: int, options: dict | None = None, **train: object):  # noqa: ANN201
    return parse_config({
        "model": {"kind": "tokens", "options": options or OPTIONS},
        "data": {"manifest": str(corpus(tmp / "m.jsonl")), "frontend": "phonemes", "cache_dir": str(tmp / "cache"),
                 "valid_fraction": 0.0},
        "optim": {"lr": 5e-3, "warmup_steps": 5},
        "train": {"output_dir": str(tmp / "run"), "steps": steps, "batch_size": 6, "checkpoint_every": steps,
                  "eval_every": 0, "log_every": 5, "progress": False, "plot": False, "device": "cpu",
                  "early_exit_weight": 0.3, **train},
    }, "test")


def test_builder_checks_options() -> None:
    with pytest.raises(ConfigError, match="unknown key layers_x"):
        build({**OPTIONS, "layers_x": 3})
    with pytest.raises(ConfigError, match="model.options.encoder must be a mapping"):
        build({**OPTIONS, "encoder": 3})
    with pytest.raises(ConfigError, match="attention_guide_layer"):
        build({**OPTIONS, "attention_guide_layer": 5})


def test_guided_attention_penalizes_off_diagonal_reading() -> None:
    model = build(OPTIONS).train()
    src, tgt = torch.randint(1, 120, (2, 6)), torch.randint(0, 64, (2, 10))
    model(src, torch.tensor([6, 4]), tgt, torch.tensor([10, 7]))
    first = model.extra_loss
    assert first is not None and torch.isfinite(first) and first > 0
    first.backward()
    grads = model.model.decoder.layers[0].cross.q.weight.grad
    assert grads is not None and grads.abs().sum() > 0
    model.eval()
    model(src, torch.tensor([6, 4]), tgt, torch.tensor([10, 7]))
    assert model.extra_loss is None  # only while training


def attention_hits(checkpoint: Path, options: dict, manifest: Path, cache: Path) -> float:
    """How often a trained model's guided layer attends most to each target token's own source id."""
    from sonorant.train.data import collate, make_pairs, tokenize_manifest
    from sonorant.train.frontends import FRONTENDS

    model = build({**options, "attention_align": 1.0})  # the hooks keep what the attention needs
    model.load_state_dict(torch.load(checkpoint, weights_only=False)["model"])
    pairs = make_pairs(tokenize_manifest(manifest, FRONTENDS["phonemes"], cache), "text_to_tokens",
                       FRONTENDS["phonemes"])
    batch = collate(pairs.sources, pairs.targets, model.token_spec, pairs.aligns)
    with torch.no_grad():
        model.train()(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_lengths)
        att, _ = model._attention(batch.src_lengths)  # [b, t, s]
    known = batch.align >= 0
    return float((att.argmax(-1) == batch.align)[known].float().mean())


def test_alignment_loss_teaches_the_layer_to_read_each_tokens_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="attention_align must be >= 0"):
        build({**OPTIONS, "attention_align": -1})
    options = {**OPTIONS, "attention_guide": 0.0, "attention_align": 1.0}
    model = build(options).train()
    src, tgt = torch.randint(1, 120, (2, 6)), torch.randint(0, 64, (2, 10))
    model.alignment = torch.tensor([[0, 0, 1, 2, 3, 3, 4, 5, 5, 5], [0, 1, 2, 3, 3, 3, 3, -100, -100, -100]])
    model(src, torch.tensor([6, 4]), tgt, torch.tensor([10, 7]))
    loss = model.extra_loss
    assert loss is not None and loss > 0 and torch.isfinite(loss)
    loss.backward()
    assert model.model.decoder.layers[0].cross.q.weight.grad.abs().sum() > 0
    model.alignment = None
    model(src, torch.tensor([6, 4]), tgt, torch.tensor([10, 7]))
    assert model.extra_loss is None  # nothing to learn from

    plain = tmp_path / "no-durations"
    plain.mkdir()
    cfg = config(plain, 5, options)  # writes plain/m.jsonl, stripped of its durations here
    manifest = plain / "m.jsonl"
    manifest.write_text("".join(json.dumps({k: v for k, v in json.loads(line).items() if k != "durations"}) + "\n"
                                for line in manifest.read_text().splitlines()))
    with pytest.raises(ConfigError, match="no training line has usable"):
        Trainer(cfg)

    hits = {}
    for weight in (0.0, 1.0):
        run = tmp_path / f"align-{weight}"
        run.mkdir()
        trained = {**options, "attention_align": weight}
        result = Trainer(config(run, 120, trained)).run()
        hits[weight] = attention_hits(result.checkpoint, trained, run / "m.jsonl", run / "cache")
    assert hits[1.0] > 0.9 and hits[0.0] < 0.6, hits  # the same training without the loss reads elsewhere


def test_trains_exports_and_speaks(tmp_path: Path) -> None:
    import sonorant
    from sonorant import SynthesisConfig

    result = Trainer(config(tmp_path, 150)).run()
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if r["kind"] == "train"]
    assert losses[-1] < 0.5 * losses[0]
    assert all("aux_loss" in r and "early_exit_loss" in r for r in records if r["kind"] == "train")
    voice_dir = export_run(result.checkpoint, tmp_path / "voice")
    header = json.loads((voice_dir / "voice.json").read_text())
    assert header["frontend"] == {"kind": "phonemes", "voice": "joe"} and header["training"]["steps"] == 150
    voice = sonorant.load_voice(voice_dir)
    assert voice.family == "tokens" and voice.sample_rate == 22050
    cfg = SynthesisConfig(decoding="sample", temperature=0.8, seed=1, max_tokens=100)
    audio = voice.synthesize("Hi.", cfg)
    tokens = voice.tokens("Hi.", cfg)
    assert len(audio.samples) == sum(len(t) - 1 for t in tokens) * 512
