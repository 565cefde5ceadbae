"""The training loop: teacher-forced cross-entropy on token models, with checkpoints that resume exactly.

    from sonorant.train import Trainer, load_config
    Trainer(load_config("run.yaml")).run()

Resuming is exact: a checkpoint holds everything the next step depends on (weights, optimizer, schedule,
scaler, every RNG, the data position), batches are a pure function of (seed, epoch), and the validation and
eval passes run under a forked RNG, so on the CPU a run interrupted at step k and resumed ends with the same
bits as one that never stopped.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import math
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, SonorantError
from .checkpoint import load_checkpoint, load_weights, plan_run, rng_state, save_checkpoint, set_rng_state, start_run
from .config import TrainConfig
from .data import (
    CODECS,
    IGNORE,
    AudioEncoder,
    Batch,
    BucketSampler,
    Pairs,
    check_ids,
    collate,
    default_cache_dir,
    make_pairs,
    tokenize_manifest,
)
from .evaluate import Judge, evaluate, make_judge
from .freeze import apply_freeze
from .frontends import FRONTENDS
from .metrics import MetricsLog, check_plotting, plot_metrics
from .models import Synthesize, build_model, model_kind
from .optim import autocast_dtype, make_optimizer, make_scheduler, train_device

_LOG = logging.getLogger(__name__)


class TrainingDiverged(SonorantError):
    """The loss became NaN or infinite (lower optim.lr, raise warmup, or clip gradients)."""


@dataclass(frozen=True)
class TrainResult:
    """How a call of `Trainer.run` ended."""

    step: int
    """The last completed step."""
    run_dir: Path
    """The run directory."""
    checkpoint: Path | None
    """The checkpoint written last."""
    interrupted: bool
    """True if it stopped early (Ctrl-C or `stop_at`); resume it with `resume=True` / --resume."""
    valid_loss: float | None
    """The last validation loss (None without a held-out split)."""


def seed_everything(seed: int) -> None:
    """Seed torch, numpy and Python's RNGs (what the initial weights and any training noise draw from)."""
    import random

    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def load_splits(config: TrainConfig, spec: Any, codec: AudioEncoder | None = None) -> tuple[Pairs, Pairs | None]:
    """(training examples, held-out examples or None) from the config's manifests, through the cache."""
    data = config.data
    frontend = FRONTENDS[data.frontend]
    cache_dir = data.cache_dir or default_cache_dir()
    codec_id = ""
    factory = None
    if data.codec is not None:
        codec_id = f"{data.codec.kind}:{sorted(data.codec.options.items())!r}:{getattr(codec, 'cache_id', '')}"
        if codec is None:
            if data.codec.kind not in CODECS:
                raise ConfigError(f"data.codec.kind: unknown codec {data.codec.kind!r}; known: "
                                  f"{', '.join(sorted(CODECS)) or 'none are registered'}")
            options = data.codec.options
            factory = lambda: CODECS[data.codec.kind](options)  # noqa: E731 - built only if audio is encoded

    def pairs(path: Path) -> Pairs:
        tokenized = tokenize_manifest(path, frontend, cache_dir, codec=codec or factory, codec_id=codec_id,
                                      max_audio_seconds=data.max_audio_seconds)
        return make_pairs(tokenized, data.direction, frontend, data.max_source_len, data.max_target_len)

    main = pairs(data.manifest)
    valid = None
    if data.valid_manifest is not None:
        valid = pairs(data.valid_manifest)
    elif data.valid_fraction > 0:
        count = max(1, round(len(main) * data.valid_fraction))
        if count >= len(main):
            raise ConfigError(f"data.valid_fraction: {data.valid_fraction} of {len(main)} examples leaves none "
                              f"to train on")
        order = np.random.default_rng(data.split_seed).permutation(len(main))
        valid, main = main.subset(sorted(order[:count])), main.subset(sorted(order[count:]))
    for extra in data.extra_manifests:
        main = main + pairs(extra)
    check_ids(main, spec)
    if valid is not None:
        check_ids(valid, spec)
    return main, valid


class Trainer:
    """One training run of a config (see the module docstring).

    `model`: train this module instead of building model.kind; `codec`: encodes the manifests' audio;
    `synthesize`: speaks with the current weights for the eval hook (default: the model kind's synthesizer);
    `judge`: the ASR judge (default: eval.judge); `resume` / `force`: continue, or replace, a run already in
    train.output_dir."""

    def __init__(self, config: TrainConfig, *, model: nn.Module | None = None, codec: AudioEncoder | None = None,
                 synthesize: Synthesize | None = None, judge: Judge | None = None, resume: bool = False,
                 force: bool = False) -> None:
        try:
            self._setup(config, model, codec, synthesize, judge, resume, force)
        except ConfigError as exc:
            raise config.error(exc) from None

    def _setup(self, config: TrainConfig, model: nn.Module | None, codec: AudioEncoder | None,
               synthesize: Synthesize | None, judge: Judge | None, resume: bool, force: bool) -> None:
        self.config = config
        t = config.train
        self.device = train_device(t.device)
        if t.threads:
            torch.set_num_threads(t.threads)
        self.amp_dtype = autocast_dtype(t.precision, self.device)
        if t.plot:
            check_plotting()
        plan = plan_run(t.output_dir, config.to_dict(), resume, force)
        self.run_dir = t.output_dir
        seed_everything(t.seed)
        if model is None:
            model = build_model(config.model.kind, config.model.options)
        if config.model.init is not None:
            try:
                model.load_state_dict(load_weights(config.model.init))
            except RuntimeError as exc:
                raise ConfigError(f"model.init: {config.model.init} does not fit the model: {exc}") from None
        self.model = model.to(self.device)
        self.spec = model.token_spec
        self.frozen = apply_freeze(model, config.freeze.parts, config.freeze.patterns)
        self.train_set, self.valid_set = load_splits(config, self.spec, codec)
        if getattr(self.model, "wants_alignment", False) and self.train_set.aligns is None:
            raise ConfigError("the model learns from alignments (e.g. model.options.attention_align) but no training "
                              "line has usable \"durations\" (frames per front-end id, as many as its ids)")
        self.sampler = BucketSampler(self.train_set.lengths(), t.batch_size * t.grad_accum, t.seed,
                                     config.data.bucket_pool)
        self.optimizer = make_optimizer(model, config.optim)
        self.scheduler = make_scheduler(self.optimizer, config.optim, t)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.sentences = config.eval_sentences() if config.eval.every else []
        self.synthesize, self.judge = synthesize, judge
        if self.sentences:
            if self.synthesize is None:
                made = model_kind(config.model.kind).synthesizer
                if made is None:
                    raise ConfigError(f"eval.every: model kind {config.model.kind!r} has no synthesizer registered, "
                                      f"so its speech cannot be evaluated (set eval.every to 0)")
                self.synthesize = made(model, config)
            if self.judge is None:
                missing = [m for m in ("faster_whisper", "jiwer", "whisper_normalizer")
                           if importlib.util.find_spec(m) is None]
                if missing:
                    raise ConfigError(f"eval: the Whisper judge needs {', '.join(missing)}: pip install "
                                      f"sonorant[test], or set eval.every to 0")
                self.judge = make_judge(config.eval.judge)
        self.step, self.epoch, self.position, self.elapsed = 0, 0, 0, 0.0
        self._epoch_batches: tuple[int, list[np.ndarray]] | None = None
        start_run(plan, config.to_dict())
        if plan.resume_from is not None:
            self._restore(load_checkpoint(plan.resume_from))  # on the CPU: RNG states must stay there
            _LOG.info("resumed %s at step %d from %s", self.run_dir, self.step, plan.resume_from)
        self.metrics = MetricsLog(self.run_dir / "metrics.jsonl", self.step if plan.resume_from else None)
        self.last_checkpoint = plan.resume_from
        self.valid_loss: float | None = None
        self._stop = False

    # ----------------------------------------------------------------------------------------------- state
    def state(self) -> dict[str, Any]:
        """Everything a checkpoint holds (besides its format and step)."""
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict() if self.scaler is not None else None, "rng": rng_state(),
                "data": {"epoch": self.epoch, "position": self.position}, "elapsed": self.elapsed,
                "config": self.config.to_dict(), "frozen": self.frozen}

    def _restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state.get("scaler") is not None:
            self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        self.epoch, self.position = int(state["data"]["epoch"]), int(state["data"]["position"])
        self.step, self.elapsed = int(state["step"]), float(state["elapsed"])

    def save(self) -> Path:
        """Write a checkpoint of the current step (and the loss plot)."""
        self.last_checkpoint = save_checkpoint(self.run_dir, self.step, self.state(), self.config.train.keep_last)
        if self.config.train.plot:
            plot_metrics(self.metrics.read(), self.run_dir / "loss.png")
        return self.last_checkpoint

    # ------------------------------------------------------------------------------------------------ data
    def _next_step_examples(self) -> np.ndarray:
        if self._epoch_batches is None or self._epoch_batches[0] != self.epoch:
            self._epoch_batches = (self.epoch, self.sampler.epoch(self.epoch))
        batches = self._epoch_batches[1]
        if self.position >= len(batches):
            self.epoch, self.position = self.epoch + 1, 0
            return self._next_step_examples()
        self.position += 1
        return batches[self.position - 1]

    def _micro_batches(self, pairs: Pairs, indices: np.ndarray, size: int) -> Iterator[Batch]:
        for start in range(0, len(indices), size):
            chunk = indices[start: start + size]
            aligns = None if pairs.aligns is None else [pairs.aligns[i] for i in chunk]
            yield collate([pairs.sources[i] for i in chunk], [pairs.targets[i] for i in chunk], self.spec, aligns)

    # ------------------------------------------------------------------------------------------------ loss
    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def _losses(self, batch: Batch, early_exit: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(summed token cross-entropy, summed early-exit cross-entropy or None) of one micro-batch."""
        weight = self.config.train.early_exit_weight if early_exit else 0.0
        if hasattr(self.model, "early_exit_logits"):
            self.model.early_exit_logits = None
        if hasattr(self.model, "alignment"):  # a model that learns from alignments reads them here
            self.model.alignment = batch.align
        with self._autocast():
            logits = self.model(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_lengths)  # [b, t, V]
        expected = (*batch.tgt_in.shape, self.spec.vocab_size)
        if tuple(logits.shape) != expected:
            raise ConfigError(f"the model returned logits of shape {list(logits.shape)}, expected {list(expected)} "
                              f"([batch, target length, vocab_size])")
        ce = F.cross_entropy(logits.float().flatten(0, 1), batch.targets.flatten(), ignore_index=IGNORE,
                             reduction="sum")
        if weight == 0:
            return ce, None
        early = getattr(self.model, "early_exit_logits", None)
        if early is None:
            raise ConfigError(f"train.early_exit_weight is {weight} but the model set no early_exit_logits in its "
                              f"forward (it has no early-exit head, or the head is off)")
        early_ce = F.cross_entropy(early.float().flatten(0, 1), batch.targets.flatten(), ignore_index=IGNORE,
                                   reduction="sum")
        return ce, early_ce

    def train_step(self) -> dict[str, float]:
        """One optimizer step over batch_size x grad_accum examples; the loss is the mean over all their target
        tokens, so accumulating micro-batches gives the gradient of one big batch."""
        t = self.config.train
        batches = list(self._micro_batches(self.train_set, self._next_step_examples(), t.batch_size))
        tokens = sum(b.target_tokens for b in batches)
        self.model.train()
        loss_sum, early_sum, extra_sum = 0.0, 0.0, 0.0
        for batch in batches:
            ce, early = self._losses(batch.to(self.device))
            loss = ce + t.early_exit_weight * early if early is not None else ce
            extra = getattr(self.model, "extra_loss", None)  # a model's own auxiliary loss, summed over tokens
            if extra is not None:
                loss = loss + extra
                extra_sum += float(extra.detach())
            loss = loss / tokens
            (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
            loss_sum += float(ce.detach())
            early_sum += float(early.detach()) if early is not None else 0.0
        if not math.isfinite(loss_sum):
            raise TrainingDiverged(f"the loss is {loss_sum} at step {self.step + 1} (lower optim.lr, add warm-up or "
                                   f"gradient clipping)")
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        params = [p for p in self.model.parameters() if p.requires_grad]
        norm = torch.nn.utils.clip_grad_norm_(params, self.config.optim.grad_clip or math.inf)
        lr = self.optimizer.param_groups[0]["lr"]
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.step += 1
        out = {"loss": loss_sum / tokens, "lr": lr, "grad_norm": float(norm), "tokens": tokens}
        if extra_sum:
            out["aux_loss"] = extra_sum / tokens
        if t.early_exit_weight:
            out["early_exit_loss"] = early_sum / tokens
        return out

    # ------------------------------------------------------------------------------------ validation, eval
    def _rng_fork(self) -> contextlib.AbstractContextManager:
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        return torch.random.fork_rng(devices=devices, device_type=self.device.type)

    @torch.no_grad()
    def validation_loss(self) -> float | None:
        """Mean cross-entropy per target token over the held-out split (None without one)."""
        if self.valid_set is None:
            return None
        was_training = self.model.training
        self.model.eval()
        total, count = 0.0, 0
        try:
            with self._rng_fork():
                order = np.argsort(self.valid_set.lengths(), kind="stable")
                for batch in self._micro_batches(self.valid_set, order, self.config.train.batch_size):
                    ce, _ = self._losses(batch.to(self.device), early_exit=False)
                    total += float(ce)
                    count += batch.target_tokens
        finally:
            self.model.train(was_training)
        self.valid_loss = total / count
        self.metrics.write("valid", step=self.step, valid_loss=self.valid_loss)
        return self.valid_loss

    def run_eval(self) -> float:
        """Synthesize the eval sentences, score them with the judge, log and return the WER."""
        assert self.synthesize is not None and self.judge is not None
        was_training = self.model.training
        self.model.eval()
        try:
            with self._rng_fork(), torch.no_grad():
                result = evaluate(self.synthesize, self.sentences, self.judge,
                                  self.run_dir / "eval" / f"step-{self.step:08d}")
        finally:
            self.model.train(was_training)
        self.metrics.write("eval", step=self.step, wer=result.wer, hypotheses=result.hypotheses,
                           seconds=round(result.seconds, 3))
        _LOG.info("step %d: eval WER %.1f%%", self.step, 100 * result.wer)
        return result.wer

    # ------------------------------------------------------------------------------------------------ loop
    @contextlib.contextmanager
    def _interruptible(self) -> Iterator[None]:
        """Ctrl-C asks the loop to stop after the current step (and checkpoint), instead of killing it mid-step."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def ask(signum: int, frame: Any) -> None:
            if self._stop:
                raise KeyboardInterrupt
            self._stop = True
            _LOG.warning("interrupted: stopping after this step (Ctrl-C again to abort without a checkpoint)")

        previous = signal.signal(signal.SIGINT, ask)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def run(self, stop_at: int | None = None) -> TrainResult:
        """Train to train.steps (or stop after step `stop_at`, or at Ctrl-C), checkpointing on the way."""
        try:
            return self._run(stop_at)
        except ConfigError as exc:
            raise self.config.error(exc) from None

    def _run(self, stop_at: int | None) -> TrainResult:
        from tqdm import tqdm

        t = self.config.train
        window: dict[str, float] = {}
        steps_in_window = 0
        saved_at = self.step if self.last_checkpoint is not None else -1
        bar = tqdm(total=t.steps, initial=self.step, disable=not t.progress, unit="step", dynamic_ncols=True)
        with self._interruptible(), bar:
            while self.step < t.steps and not self._stop and (stop_at is None or self.step < stop_at):
                start = time.perf_counter()
                stats = self.train_step()
                seconds = time.perf_counter() - start
                self.elapsed += seconds
                for key, value in stats.items():
                    window[key] = window.get(key, 0.0) + value
                window["seconds"] = window.get("seconds", 0.0) + seconds
                steps_in_window += 1
                bar.update(1)
                bar.set_postfix(loss=f"{stats['loss']:.3f}", lr=f"{stats['lr']:.2e}")
                if self.step % t.log_every == 0 or self.step == t.steps:
                    record = {"step": self.step, "loss": window["loss"] / steps_in_window, "lr": stats["lr"],
                              "grad_norm": window["grad_norm"] / steps_in_window,
                              "tokens_per_s": window["tokens"] / max(window["seconds"], 1e-9),
                              "elapsed": round(self.elapsed, 3)}
                    for key in ("early_exit_loss", "aux_loss"):
                        if key in window:
                            record[key] = window[key] / steps_in_window
                    self.metrics.write("train", **record)
                    window, steps_in_window = {}, 0
                if (t.eval_every and self.step % t.eval_every == 0) or self.step == t.steps:
                    self.validation_loss()
                if self.sentences and (self.step % self.config.eval.every == 0 or self.step == t.steps):
                    self.run_eval()
                if self.step % t.checkpoint_every == 0 or self.step == t.steps:
                    self.save()
                    saved_at = self.step
        interrupted = self.step < t.steps
        if saved_at != self.step:
            self.save()
        return TrainResult(self.step, self.run_dir, self.last_checkpoint, interrupted, self.valid_loss)
