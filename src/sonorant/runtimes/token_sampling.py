"""Choosing the next token from logits, on the device, the same for a row in any batch.

Every random draw is a pure function of (the utterance's seed, a stream, the token's position, the
vocabulary index): the counter-based hash of `sonorant.arrays`, so an utterance sampled alone, in a batch
of 32 or as one beam of a bucket gets the same tokens. Sampling is the Gumbel-max trick (argmax of
logits / temperature + Gumbel noise is an exact draw from the softmax); top-k and top-p only mask logits.
Every knob is a per-row tensor, so one compiled graph serves any mix of settings.
"""

from __future__ import annotations

import torch

from ..arrays import noise_words, uniform_parts

SAMPLE_STREAM = 0x7A
"""Draws of the token a row samples (plain sampling, and the speculative draft)."""
ACCEPT_STREAM = 0x7B
"""Uniforms of the speculative acceptance test."""
RESIDUAL_STREAM = 0x7C
"""Draws of the token sampled after a rejected draft (or the bonus token)."""

NEG = float("-inf")


def uniform(seeds: torch.Tensor, stream: int, width: int, position: torch.Tensor) -> torch.Tensor:
    """U(0, 1) [b, n, width] for rows' seeds [b] at positions [b, n] (channel = vocabulary index)."""
    s = seeds.to(torch.int64)[:, None, None]  # [b, 1, 1]
    c = torch.arange(width, device=seeds.device, dtype=torch.int64)[None, None, :]  # [1, 1, w]
    first, _ = noise_words(s, c, position.to(torch.int64)[:, :, None], stream)  # [b, n, w]
    return (uniform_parts(first).to(torch.float32) + 0.5) * 2.0**-24


def gumbel(seeds: torch.Tensor, stream: int, width: int, position: torch.Tensor) -> torch.Tensor:
    """Standard Gumbel noise [b, n, width]."""
    return -torch.log(-torch.log(uniform(seeds, stream, width, position)))


def filtered(logits: torch.Tensor, temperature: torch.Tensor, top_k: torch.Tensor, top_p: torch.Tensor
             ) -> torch.Tensor:
    """logits [b, n, V] / temperature with everything outside each row's top-k and top-p set to -inf.

    temperature [b] (> 0 here; greedy rows are handled by `choose`), top_k [b] int (0: off), top_p [b] in
    (0, 1] (1: off). The kept set always includes the most likely token."""
    x = logits.float() / temperature.clamp_min(1e-6)[:, None, None]
    v = x.shape[-1]
    ordered, _ = x.sort(dim=-1, descending=True)  # [b, n, V]
    k = torch.where(top_k > 0, top_k.clamp(max=v), v)  # [b]
    kth = ordered.gather(-1, (k - 1)[:, None, None].expand(*x.shape[:2], 1))  # [b, n, 1]
    in_k = torch.arange(v, device=x.device)[None, None, :] < k[:, None, None]  # [b, 1, V]
    probs = ordered.masked_fill(~in_k, NEG).softmax(-1)  # top-p measures mass within the top k, as HF does
    before = probs.cumsum(-1) - probs  # probability mass strictly above each sorted entry
    keep = (before < top_p.to(x.dtype)[:, None, None]) & in_k  # [b, n, V], the first entry always kept
    last = ordered.masked_fill(~keep, float("inf")).min(dim=-1, keepdim=True).values  # smallest kept logit
    floor = torch.maximum(kth, last)
    return x.masked_fill(x < floor, NEG)


def choose(logits: torch.Tensor, seeds: torch.Tensor, position: torch.Tensor, temperature: torch.Tensor,
           top_k: torch.Tensor, top_p: torch.Tensor, stream: int = SAMPLE_STREAM) -> torch.Tensor:
    """The next tokens [b, n] from logits [b, n, V]: argmax where temperature is 0, else a draw from the
    filtered softmax using the rows' noise at `position` [b, n]."""
    greedy = logits.argmax(-1)
    noisy = filtered(logits, temperature, top_k, top_p) + gumbel(seeds, stream, logits.shape[-1], position)
    return torch.where((temperature > 0)[:, None], noisy.argmax(-1), greedy)


def probabilities(logits: torch.Tensor, temperature: torch.Tensor, top_k: torch.Tensor, top_p: torch.Tensor
                  ) -> torch.Tensor:
    """The distribution `choose` samples from, [b, n, V] (one-hot at the argmax where temperature is 0)."""
    p = filtered(logits, temperature, top_k, top_p).softmax(-1)
    hot = torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).to(p.dtype)
    return torch.where((temperature > 0)[:, None, None], p, hot)
