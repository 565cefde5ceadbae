"""Checkpoints and run directories.

A checkpoint (`checkpoints/step-00001000.pt`, written to a temporary file and renamed into place) holds the
model, optimizer, scheduler and gradient-scaler states, every RNG state (torch, CUDA, numpy, Python), the
data position (epoch, batch within it), the step, the elapsed training time and the config; everything loads
with `torch.load(weights_only=True)`. A run directory holds `run.json` (the config it was started with),
`metrics.jsonl`, `loss.png`, `checkpoints/` and `eval/`.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError

_LOG = logging.getLogger(__name__)

FORMAT = "sonorant-train/1"
"""The `format` entry of every checkpoint this module writes."""
RUN_FILE = "run.json"
RUN_ARTIFACTS = (RUN_FILE, "metrics.jsonl", "loss.png", "checkpoints", "eval")
"""What a run writes in its directory (and what --force removes; nothing else is touched)."""
RESUMABLE_KEYS = ("train.steps", "train.checkpoint_every", "train.keep_last", "train.eval_every", "train.log_every",
                  "train.progress", "train.plot", "data.cache_dir", "eval.")
"""Config keys that may change when a run is resumed (a prefix ending in '.' covers a section)."""
_STEP_FILE = re.compile(r"step-(\d+)\.pt")


def rng_state() -> dict[str, Any]:
    """Every RNG state training draws from, as tensors and plain data (weights_only-loadable)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {"torch": torch.get_rng_state(),
             "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "gauss": float(gauss)},
             "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next}}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` captured."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_dir(run_dir: Path) -> Path:
    """Where a run's checkpoints go."""
    return run_dir / "checkpoints"


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of the run's checkpoints, oldest first."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP_FILE.fullmatch(p.name))]
    return sorted(found)


def save_checkpoint(run_dir: Path, step: int, state: dict[str, Any], keep_last: int) -> Path:
    """Write `state` as the checkpoint of `step` (atomically) and delete all but the newest `keep_last`."""
    folder = checkpoint_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step-{step:08d}.pt"
    tmp = folder / f".{path.name}.tmp-{os.getpid()}"
    torch.save({"format": FORMAT, "step": step, **state}, tmp)
    os.replace(tmp, path)
    for _, old in list_checkpoints(run_dir)[:-keep_last]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """A checkpoint written by `save_checkpoint` (ConfigError if the file is not one)."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable checkpoint: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ConfigError(f"{path}: not a sonorant train checkpoint (no format {FORMAT!r})")
    return state


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """A state_dict from a `sonorant train` checkpoint or a plain state_dict file (model.init)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise ConfigError(f"model.init: {path}: not a readable weights file: {exc}") from None
    if isinstance(state, dict) and state.get("format") == FORMAT:
        state = state["model"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(f"model.init: {path}: neither a sonorant train checkpoint nor a state_dict")
    return state


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: data}


def config_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Dotted keys whose values differ between two configs (as `TrainConfig.to_dict` gives them)."""
    a, b = _flat(old), _flat(new)
    return sorted(k for k in set(a) | set(b) if a.get(k, object()) != b.get(k, object()))


@dataclass(frozen=True)
class RunPlan:
    """What starting a run in a directory will do (decided by `plan_run`, done by `start_run`)."""

    run_dir: Path
    """The run directory."""
    resume_from: Path | None
    """The checkpoint to continue from, or None to start at step 0."""
    wipe: bool
    """Remove the directory's previous run first (--force)."""


def plan_run(run_dir: Path, config: dict[str, Any], resume: bool, force: bool) -> RunPlan:
    """Check that a run may start in `run_dir` (no side effects).

    A directory holding a run needs `resume` (continue it: same config apart from RESUMABLE_KEYS) or `force`
    (remove that run's files and start over); a non-empty directory that holds no run is never used."""
    if resume and force:
        raise ConfigError("--resume and --force contradict each other: continue the run, or start it over")
    run_file = run_dir / RUN_FILE
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"train.output_dir {str(run_dir)!r} is a file, not a directory")
    has_run = run_file.is_file()
    if run_dir.is_dir() and any(run_dir.iterdir()) and not has_run:
        raise ConfigError(f"train.output_dir {str(run_dir)!r} is not empty and holds no training run: "
                          f"choose an empty or new directory")
    if has_run and not (resume or force):
        raise ConfigError(f"train.output_dir {str(run_dir)!r} already holds a training run: pass --resume to "
                          f"continue it or --force to delete it and start over")
    if not has_run or force:
        if resume:
            _LOG.warning("--resume: %s holds no run yet; starting a new one", run_dir)
        return RunPlan(run_dir, None, wipe=has_run)
    try:
        old = json.loads(run_file.read_text(encoding="utf-8"))["config"]
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{run_file}: unreadable ({exc}); use --force to start over") from None
    changed = [k for k in config_changes(old, config)
               if not any(k == r or (r.endswith(".") and k.startswith(r)) for r in RESUMABLE_KEYS)]
    if changed:
        raise ConfigError(f"cannot resume {str(run_dir)!r}: the config differs from the run's in "
                          f"{', '.join(changed)} (only {', '.join(RESUMABLE_KEYS)} may change); "
                          f"use --force to start over")
    checkpoints = list_checkpoints(run_dir)
    if not checkpoints:
        _LOG.warning("%s holds a run without checkpoints: starting it from step 0", run_dir)
    return RunPlan(run_dir, checkpoints[-1][1] if checkpoints else None, wipe=False)


def start_run(plan: RunPlan, config: dict[str, Any]) -> None:
    """Carry out `plan`: remove the old run's files if asked, and write run.json with `config`."""
    if plan.wipe:
        for name in RUN_ARTIFACTS:
            target = plan.run_dir / name
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    tmp = plan.run_dir / f".{RUN_FILE}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps({"format": FORMAT, "config": config}, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, plan.run_dir / RUN_FILE)
