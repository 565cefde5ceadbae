"""The metrics log of a run (`metrics.jsonl`) and its plot (`loss.png`).

Each line is a JSON object with a `kind`:
- "train": step, loss (mean over the steps since the last line), lr, grad_norm (mean, before clipping),
  tokens_per_s (target tokens per second of training), elapsed (training seconds, across resumes), and
  early_exit_loss when the model has that head, aux_loss when the model adds its own (guided attention);
- "valid": step, valid_loss (mean over every target token of the held-out split);
- "eval": step, wer (the Whisper judge's corpus WER on the eval sentences), hypotheses, seconds.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ..errors import ConfigError

_LOG = logging.getLogger(__name__)


class MetricsLog:
    """Appends records to a JSONL file; on resume, drops lines past the checkpoint's step first."""

    def __init__(self, path: Path, resume_step: int | None = None) -> None:
        self.path = path
        if resume_step is not None and path.is_file():
            kept = [line for line in path.read_text(encoding="utf-8").splitlines()
                    if line.strip() and json.loads(line).get("step", 0) <= resume_step]
            path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        elif resume_step is None:
            path.write_text("", encoding="utf-8")

    def write(self, kind: str, **values: Any) -> dict[str, Any]:
        """Append one record and return it."""
        record = {"kind": kind, **values}
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        return record

    def read(self) -> list[dict[str, Any]]:
        """Every record so far."""
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]


def check_plotting() -> None:
    """A ConfigError now, rather than at the first checkpoint, if train.plot cannot be honoured."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError("train.plot needs matplotlib: pip install sonorant[train], or set train.plot to "
                          "false") from None


def plot_metrics(records: list[dict[str, Any]], path: Path) -> Path:
    """Draw the training and validation loss (and the learning rate, and the WER when there is one) to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [r for r in records if r["kind"] == "train"]
    valid = [r for r in records if r["kind"] == "valid"]
    evals = [r for r in records if r["kind"] == "eval"]
    panels = 3 if evals else 2
    fig, axes = plt.subplots(panels, 1, figsize=(8, 2.6 * panels + 1), sharex=True)
    ax = axes[0]
    if train:
        ax.plot([r["step"] for r in train], [r["loss"] for r in train], label="train loss")
        if any("early_exit_loss" in r for r in train):
            ax.plot([r["step"] for r in train], [r.get("early_exit_loss") for r in train], label="early-exit loss")
        if any("aux_loss" in r for r in train):
            ax.plot([r["step"] for r in train], [r.get("aux_loss") for r in train], label="guided-attention loss")
    if valid:
        ax.plot([r["step"] for r in valid], [r["valid_loss"] for r in valid], "o-", label="validation loss")
    ax.set_ylabel("cross-entropy (nats/token)")
    if train or valid:
        ax.set_yscale("log")
        ax.legend()
    ax.grid(alpha=0.3)
    axes[1].plot([r["step"] for r in train], [r["lr"] for r in train], color="tab:gray")
    axes[1].set_ylabel("learning rate")
    axes[1].grid(alpha=0.3)
    if evals:
        axes[2].plot([r["step"] for r in evals], [100 * r["wer"] for r in evals], "o-", color="tab:red")
        axes[2].set_ylabel("Whisper WER (%)")
        axes[2].grid(alpha=0.3)
    axes[-1].set_xlabel("step")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)
    return path
