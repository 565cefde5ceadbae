"""Optimizer, learning-rate schedule, device and precision of a training run."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from ..errors import ConfigError
from .config import OptimSection, TrainSection


def train_device(name: str) -> torch.device:
    """The device train.device names ("auto", "cpu", "cuda", "cuda:N"); XLA is not a training device here."""
    from ..devices import resolve_device

    try:
        resolved = resolve_device(name)
    except ConfigError as exc:
        raise ConfigError(f"train.device: {exc}") from None
    if resolved.startswith("xla"):
        raise ConfigError(f"train.device: {name!r}: training runs on cpu or cuda, not on XLA")
    return torch.device(resolved)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of train.precision on `device` (None: fp32), or a ConfigError where the device
    lacks it (bf16 and fp16 need a CUDA GPU; bf16 one that supports it)."""
    if precision == "fp32":
        return None
    if device.type != "cuda":
        raise ConfigError(f"train.precision: {precision} needs a CUDA GPU; this run's device is {device} "
                          f"(use fp32)")
    if precision == "bf16":
        if not torch.cuda.is_bf16_supported():
            raise ConfigError(f"train.precision: bf16: {torch.cuda.get_device_name(device)} does not support "
                              f"bfloat16 (use fp16 or fp32)")
        return torch.bfloat16
    if precision == "fp16":
        return torch.float16
    raise ConfigError(f"train.precision: unknown precision {precision!r}; use fp32, bf16 or fp16")


def make_optimizer(model: nn.Module, optim: OptimSection) -> torch.optim.AdamW:
    """AdamW over the trainable parameters; weight decay on those with 2 or more dimensions only."""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for _, p in trainable if p.ndim >= 2]
    no_decay = [p for _, p in trainable if p.ndim < 2]
    groups = [g for g in ({"params": decay, "weight_decay": optim.weight_decay},
                          {"params": no_decay, "weight_decay": 0.0}) if g["params"]]
    return torch.optim.AdamW(groups, lr=optim.lr, betas=optim.betas, eps=optim.eps)


def lr_factor(optim: OptimSection, train: TrainSection) -> Callable[[int], float]:
    """The multiplier of optim.lr at 0-based optimizer step k: linear warm-up over warmup_steps (reaching lr on
    the last of them), then cosine down to min_lr at train.steps, or constant."""
    warmup, total = optim.warmup_steps, train.steps
    floor = optim.min_lr / optim.lr if optim.lr > 0 else 0.0

    def factor(k: int) -> float:
        if k < warmup:
            return (k + 1) / warmup
        if optim.schedule == "constant":
            return 1.0
        progress = min(1.0, (k - warmup) / max(1, total - warmup))
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def make_scheduler(optimizer: torch.optim.Optimizer, optim: OptimSection,
                   train: TrainSection) -> torch.optim.lr_scheduler.LambdaLR:
    """The learning-rate schedule, stepped once per optimizer step."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(optim, train))
