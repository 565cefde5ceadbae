"""A reference greedy decoder for any trainable token model: slow (the whole target is re-run every step,
no cache), but it needs nothing beyond the teacher-forced forward. The engine's cached decoders replace it
through `ModelKind.generator`; tests compare them with it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .models import Generate


@torch.no_grad()
def greedy_generate(model: nn.Module, sources: Sequence[np.ndarray], max_len: int,
                    device: str | torch.device = "cpu") -> list[list[int] | None]:
    """Greedy target ids (without BOS/EOS) for each source; None for a row with no EOS within `max_len` tokens."""
    spec = model.token_spec
    was_training = model.training
    model.eval()
    try:
        b = len(sources)
        s = max(len(x) for x in sources)
        src = torch.full((b, s), int(getattr(spec, "source_pad", 0)), dtype=torch.int64)  # [b, s]
        for i, x in enumerate(sources):
            src[i, : len(x)] = torch.as_tensor(np.asarray(x), dtype=torch.int64)
        src = src.to(device)
        src_lengths = torch.tensor([len(x) for x in sources], dtype=torch.int64, device=device)  # [b]
        tgt = torch.full((b, 1), int(spec.bos), dtype=torch.int64, device=device)  # [b, 1]
        out: list[list[int]] = [[] for _ in range(b)]
        done = [False] * b
        for _ in range(max_len + 1):
            lengths = torch.full((b,), tgt.shape[1], dtype=torch.int64, device=device)  # [b]
            logits = model(src, src_lengths, tgt, lengths)[:, -1]  # [b, V]
            nxt = logits.argmax(-1)  # [b]
            for i, token in enumerate(nxt.tolist()):
                if done[i]:
                    continue
                if token == spec.eos:
                    done[i] = True
                else:
                    out[i].append(int(token))
            if all(done):
                break
            tgt = torch.cat([tgt, nxt[:, None]], dim=1)  # [b, t + 1]
        return [o if d else None for o, d in zip(out, done)]
    finally:
        model.train(was_training)


def reference_generator(model: nn.Module, max_len: int, device: str | torch.device = "cpu") -> Generate:
    """`greedy_generate` as a `Generate` callable."""
    return lambda sources: greedy_generate(model, sources, max_len, device)
