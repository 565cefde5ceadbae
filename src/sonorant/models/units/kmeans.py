"""k-means in torch for unit codebooks: k-means++ seeding, then Lloyd iterations, on a CPU-sized sample.

Distances are squared Euclidean, computed in chunks as ||c||^2 - 2 x.c (the ||x||^2 term does not change
which centroid is nearest), so memory stays at chunk x k floats whatever the sample size.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from ...errors import ConfigError
from .codec import nearest

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class KMeansResult:
    """A fitted codebook and how the fit went."""

    centroids: torch.Tensor
    """The centroids [k, d] (float32)."""
    inertia: float
    """Mean squared distance of the sample to its nearest returned centroid."""
    iterations: int
    """Lloyd iterations run."""
    reseeded: int
    """Empty clusters re-seeded (from the points farthest from their centroids) over the whole fit."""


def min_sq_distances(x: torch.Tensor, centroids: torch.Tensor, chunk: int = 16384) -> tuple[torch.Tensor, torch.Tensor]:
    """(index [n] of the nearest centroid, its squared distance [n]) for each row of x [n, d]."""
    sq_c = (centroids * centroids).sum(dim=1)  # [k]
    labels, dists = [], []
    for start in range(0, x.shape[0], chunk):
        part = x[start : start + chunk]  # [m, d]
        d = sq_c.unsqueeze(0) - 2.0 * part @ centroids.T  # [m, k]
        best, idx = d.min(dim=1)
        labels.append(idx)
        dists.append((best + (part * part).sum(dim=1)).clamp_min(0.0))  # [m]
    return torch.cat(labels), torch.cat(dists)


def kmeans_pp(x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """k-means++ seeding: each new centroid is a sample point drawn with probability proportional to its
    squared distance from the nearest centroid chosen so far. x [n, d] -> [k, d]."""
    n = x.shape[0]
    chosen = torch.empty(k, dtype=torch.int64)
    chosen[0] = torch.randint(n, (1,), generator=generator)
    best = ((x - x[chosen[0]]) ** 2).sum(dim=1)  # [n]
    for i in range(1, k):
        total = float(best.sum())
        if total <= 0.0:  # fewer distinct points than k: the rest are duplicates of chosen ones
            chosen[i] = torch.randint(n, (1,), generator=generator)
        else:
            chosen[i] = torch.multinomial(best / total, 1, generator=generator)
        best = torch.minimum(best, ((x - x[chosen[i]]) ** 2).sum(dim=1))
    return x[chosen].clone()


def fit_kmeans(x: torch.Tensor, k: int, iterations: int = 30, tolerance: float = 1e-4, seed: int = 0) -> KMeansResult:
    """Fit k centroids to the rows of x [n, d] (float32): k-means++ seeding, then Lloyd iterations until the
    mean squared distance improves by less than `tolerance` (relative) or `iterations` are done. A cluster
    left empty is re-seeded with the point currently farthest from its centroid."""
    if x.dim() != 2:
        raise ConfigError(f"k-means needs a [points, dims] sample, got {tuple(x.shape)}")
    if not 1 <= k <= x.shape[0]:
        raise ConfigError(f"k-means needs 1 <= k <= points, got k={k} for {x.shape[0]} points")
    x = x.float().contiguous()
    gen = torch.Generator().manual_seed(seed)
    centroids = kmeans_pp(x, k, gen)  # [k, d]
    previous = float("inf")
    reseeded, done = 0, 0
    for done in range(1, iterations + 1):
        labels, dists = min_sq_distances(x, centroids)  # [n], [n]
        inertia = float(dists.mean())
        counts = torch.bincount(labels, minlength=k)  # [k]
        sums = torch.zeros_like(centroids).index_add_(0, labels, x)  # [k, d]
        empty = torch.nonzero(counts == 0).flatten()
        centroids = sums / counts.clamp_min(1).unsqueeze(1).to(x.dtype)
        if empty.numel():
            far = torch.topk(dists, int(empty.numel())).indices  # the worst-served points
            centroids[empty] = x[far]
            reseeded += int(empty.numel())
        _LOG.debug("k-means k=%d iteration %d: mean squared distance %.5f, %d empty", k, done, inertia, empty.numel())
        if done > 1 and empty.numel() == 0 and previous - inertia <= tolerance * previous:
            break
        previous = inertia
    inertia = float(min_sq_distances(x, centroids)[1].mean())  # of the centroids returned
    return KMeansResult(centroids, inertia, done, reseeded)


def assign(x: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """Nearest centroid of each row of x [n, d] -> [n] int64."""
    return nearest(x.float(), centroids.float())
