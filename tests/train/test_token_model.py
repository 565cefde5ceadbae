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
    """Phoneme ids -> units that follow them in order (each id's units: 2 frames of (id * 7) mod 64)."""
    rng = np.random.default_rng(0)
    lines = []
    for i in range(n):
        ids = [int(x) for x in rng.integers(1, 120, size=int(rng.integers(4, 9)))]
        units = [(x * 7) % 64 for x in ids for _ in range(2)]
        lines.append(json.dumps({"text": f"line {i}", "phonemes": ids, "tokens": units}))
    path.write_text("\n".join(lines) + "\n")
    return path


def config(tmp: Path, steps: int, **train: object):  # noqa: ANN201
    return parse_config({
        "model": {"kind": "tokens", "options": OPTIONS},
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
