"""The trainer on a tiny GRU encoder-decoder: the loss falls, resuming is bitwise exact, accumulating micro-batches
equals one big batch, frozen parameters stay bitwise fixed, and run directories are guarded."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import torch
from tiny_token_model import TinyGru, base_config, write_manifest

from sonorant.errors import ConfigError
from sonorant.train.checkpoint import list_checkpoints, load_checkpoint
from sonorant.train.config import parse_config
from sonorant.train.trainer import Trainer


def _config(tmp: Path, manifest: Path, run: str = "run", model: dict[str, Any] | None = None,
            optim: dict[str, Any] | None = None, freeze: dict[str, Any] | None = None, **train: Any):  # noqa: ANN202
    data = base_config(tmp, manifest, output_dir=str(tmp / run), **train)
    data["model"]["options"].update(model or {})
    data["optim"].update(optim or {})
    if freeze:
        data["freeze"] = freeze
    return parse_config(data, "test")


def _records(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


@pytest.fixture()
def manifest(tmp_path: Path) -> Path:
    return write_manifest(tmp_path / "train.jsonl", 16)


def test_loss_falls_on_an_overfit_set(tmp_path: Path, manifest: Path) -> None:
    config = _config(tmp_path, manifest, steps=60, batch_size=8, checkpoint_every=60, eval_every=30, plot=True,
                     log_every=5)
    data = config.to_dict()
    data["data"]["valid_fraction"] = 0.25
    config = parse_config(data, "test")
    result = Trainer(config).run()
    train = _records(result.run_dir, "train")
    assert [r["step"] for r in train] == list(range(5, 61, 5))
    first, last = train[0]["loss"], train[-1]["loss"]
    assert last < 0.5 * first, (first, last)  # measured: 2.9 -> 0.3 nats/token on 12 training examples
    for r in train:
        assert r["lr"] > 0 and r["grad_norm"] > 0 and r["tokens_per_s"] > 0 and r["elapsed"] > 0
    valid = _records(result.run_dir, "valid")
    assert [r["step"] for r in valid] == [30, 60] and all(0 < r["valid_loss"] < 10 for r in valid)
    assert result.valid_loss == valid[-1]["valid_loss"]
    png = (result.run_dir / "loss.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert [s for s, _ in list_checkpoints(result.run_dir)] == [60]


def _interrupt_during_step(model: TinyGru, step: int) -> None:
    """Make the model send this process a SIGINT from inside its forward on the `step`-th training call."""
    calls = {"n": 0}
    original = model.forward

    def forward(*args: Any) -> torch.Tensor:
        if model.training:
            calls["n"] += 1
            if calls["n"] == step:
                os.kill(os.getpid(), signal.SIGINT)
        return original(*args)

    model.forward = forward  # type: ignore[method-assign]


def test_interrupted_and_resumed_run_is_bitwise_identical(tmp_path: Path, manifest: Path) -> None:
    dropout = {"dropout": 0.2}  # dropout draws from torch's RNG: its state must be restored too
    straight = Trainer(_config(tmp_path, manifest, "a", model=dropout, steps=7))
    straight.run()

    config = _config(tmp_path, manifest, "b", model=dropout, steps=7)
    first = Trainer(config)
    _interrupt_during_step(first.model, 3)  # 16 examples, 4 per step: the resume also crosses an epoch
    stopped = first.run()
    assert stopped.interrupted and stopped.step == 3
    assert [s for s, _ in list_checkpoints(stopped.run_dir)] == [3]
    with pytest.raises(ConfigError, match="already holds a training run: pass --resume"):
        Trainer(config)
    resumed = Trainer(config, resume=True)
    assert resumed.step == 3
    result = resumed.run()
    assert result.step == 7 and not result.interrupted

    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    opt_a, opt_b = straight.optimizer.state_dict(), resumed.optimizer.state_dict()
    assert opt_a["param_groups"] == opt_b["param_groups"]
    for key, state in opt_a["state"].items():
        for field in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(state[field], opt_b["state"][key][field]), (key, field)
    assert straight.scheduler.state_dict() == resumed.scheduler.state_dict()
    # the metrics log of the resumed run has each step once, with the same losses
    losses_a = [(r["step"], r["loss"]) for r in _records(straight.run_dir, "train")]
    assert [(r["step"], r["loss"]) for r in _records(result.run_dir, "train")] == losses_a
    assert [s for s, _ in losses_a] == list(range(1, 8))
    saved = load_checkpoint(result.checkpoint)
    assert saved["step"] == 7 and saved["data"] == {"epoch": 1, "position": 3}


def test_stop_at_then_resume_matches_and_config_changes_are_refused(tmp_path: Path, manifest: Path) -> None:
    straight = Trainer(_config(tmp_path, manifest, "a", steps=5))
    straight.run()
    config = _config(tmp_path, manifest, "b", steps=5)
    assert Trainer(config).run(stop_at=2).step == 2
    changed = _config(tmp_path, manifest, "b", optim={"lr": 5e-3}, steps=5)
    with pytest.raises(ConfigError, match=r"differs from the run's in optim\.lr"):
        Trainer(changed, resume=True)
    # log_every and keep_last may change on resume
    resumed = Trainer(_config(tmp_path, manifest, "b", steps=5, log_every=2, keep_last=2), resume=True)
    resumed.run()
    for (name, p), q in zip(straight.model.named_parameters(), resumed.model.parameters()):
        assert torch.equal(p, q), name
    # checkpoints at 2 (the stop), 3 and 5: the last two kept, and no temporary file left behind
    assert sorted(p.name for p in (resumed.run_dir / "checkpoints").iterdir()) == ["step-00000003.pt",
                                                                                  "step-00000005.pt"]


def test_model_init_starts_from_a_checkpoint(tmp_path: Path, manifest: Path) -> None:
    first = Trainer(_config(tmp_path, manifest, "first", steps=2))
    checkpoint = first.run().checkpoint
    data = _config(tmp_path, manifest, "second", steps=2).to_dict()
    data["model"]["init"] = str(checkpoint)
    second = Trainer(parse_config(data, "test"))
    assert second.step == 0
    for (name, p), q in zip(first.model.named_parameters(), second.model.parameters()):
        assert torch.equal(p, q), name


def _capture_gradients(trainer: Trainer) -> list[list[torch.Tensor]]:
    """Record the gradients each optimizer step applies."""
    seen: list[list[torch.Tensor]] = []

    def record(*_: Any) -> None:
        seen.append([p.grad.detach().clone() for p in trainer.model.parameters()])

    trainer.optimizer.register_step_pre_hook(record)
    return seen


def test_grad_accumulation_equals_one_big_batch(tmp_path: Path, manifest: Path) -> None:
    runs = {}
    for name, batch, accum in (("big", 8, 1), ("small", 4, 2)):
        trainer = Trainer(_config(tmp_path, manifest, name, steps=3, batch_size=batch, grad_accum=accum,
                                  checkpoint_every=10, optim={"warmup_steps": 0}))
        runs[name] = (trainer, _capture_gradients(trainer))
        trainer.run()
    (big, grads_big), (small, grads_small) = runs["big"], runs["small"]
    assert len(grads_big) == len(grads_small) == 3
    for step, (gb, gs) in enumerate(zip(grads_big, grads_small)):
        scale = max(float(g.abs().max()) for g in gb)
        worst = max(float((a - b).abs().max()) for a, b in zip(gb, gs))
        # measured: largest gradients 0.1-0.25, largest differences 3e-8 to 6e-8 (float32 summation order)
        assert scale > 1e-3 and worst < 1e-6 * scale, (step, scale, worst)
    for r, s in zip(_records(big.run_dir, "train"), _records(small.run_dir, "train")):
        assert abs(r["loss"] - s["loss"]) < 1e-6 and abs(r["grad_norm"] - s["grad_norm"]) < 1e-5 * r["grad_norm"]


def test_frozen_parameters_stay_bitwise_fixed(tmp_path: Path, manifest: Path) -> None:
    trainer = Trainer(_config(tmp_path, manifest, steps=3, freeze={"parts": ["encoder"], "patterns": ["tgt_emb.*"]}))
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    assert trainer.frozen == ["encoder.bias_hh_l0", "encoder.bias_ih_l0", "encoder.weight_hh_l0",
                              "encoder.weight_ih_l0", "tgt_emb.weight"]
    optimized = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    trainer.run()
    for name, p in trainer.model.named_parameters():
        if name in trainer.frozen:
            assert torch.equal(p, before[name]) and id(p) not in optimized, name
        else:
            assert not torch.equal(p, before[name]), f"{name} did not train"


def test_early_exit_head_is_trained_with_its_weight(tmp_path: Path, manifest: Path) -> None:
    trainer = Trainer(_config(tmp_path, manifest, steps=3, model={"early_exit": True}, early_exit_weight=0.5))
    head = trainer.model.early_head.weight.detach().clone()
    trainer.run()
    records = _records(trainer.run_dir, "train")
    assert all(0 < r["early_exit_loss"] < 10 for r in records)
    assert not torch.equal(head, trainer.model.early_head.weight)
    with pytest.raises(ConfigError, match="set no early_exit_logits"):
        Trainer(_config(tmp_path, manifest, "plain", steps=3, early_exit_weight=0.5)).run()


def test_run_directory_guard_and_force(tmp_path: Path, manifest: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty and holds no training run"):
        Trainer(_config(tmp_path, manifest, "other", steps=2))
    assert (other / "notes.txt").read_text() == "mine"
    config = _config(tmp_path, manifest, "run", steps=2)
    Trainer(config).run()
    with pytest.raises(ConfigError, match="contradict"):
        Trainer(config, resume=True, force=True)
    again = Trainer(_config(tmp_path, manifest, "run", steps=2, seed=5), force=True)
    assert again.step == 0 and list_checkpoints(again.run_dir) == []
    again.run()
    assert [r["step"] for r in _records(again.run_dir, "train")] == [1, 2]


def test_a_diverged_loss_stops_with_a_clear_error(tmp_path: Path, manifest: Path) -> None:
    from sonorant.train.trainer import TrainingDiverged

    trainer = Trainer(_config(tmp_path, manifest, steps=2))
    with torch.no_grad():
        trainer.model.out.bias.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="the loss is nan at step 1"):
        trainer.run()
