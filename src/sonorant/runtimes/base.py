"""The seam between the engine and whatever executes a model's three stages.

Inputs the engine prepares on the host (ids, lengths, scales, seeds, speaker ids) arrive as numpy
arrays; the runtime moves them to its device. Stage outputs stay on the device in the runtime's own
array type, which the engine handles only through the runtime's `ops` (`sonorant.arrays.Ops`). Noise is
the runtime's job too: it computes it from the seeds on its device (`Ops.normal`, or inside a compiled
graph), so no noise ever crosses from the host.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from ..arrays import Ops
from ..models.vits import Encoded, VitsConfig


class Runtime(Protocol):
    """Executes a VITS voice's `encode`, `latent` and `vocode` stages (eager, compiled, exported, ...)."""

    name: str
    """Short name used on the command line and in engine configs."""
    static_shapes: bool
    """True if inputs must be padded to bucket sizes (compiled graphs); False runs exact shapes."""
    device: str
    """Where the stages run: "cpu", "cuda:0", "xla:0", ..."""
    cfg: VitsConfig
    """The voice's hyper-parameters."""
    ops: Ops
    """Array operations on what the stages return."""

    def encode(
        self,
        ids: np.ndarray,
        lengths: np.ndarray,
        noise_w: np.ndarray,
        length_scale: np.ndarray,
        seeds: np.ndarray,
        sid: np.ndarray | None,
    ) -> Encoded:
        """Stage 1 for a padded batch: ids [b, t_x] int64, lengths / noise_w / length_scale / seeds [b];
        the duration noise is `ops.normal(seeds, DURATION_STREAM, 2, t_x, lengths)`. Runs in strict fp32."""
        ...

    def latent(self, enc: Encoded, noise_scale: np.ndarray, seeds: np.ndarray, width: int) -> Any:
        """Stage 2a: path matrix, prior sample and flows -> masked latent frames [b, c, width]; the prior
        noise is `ops.normal(seeds, LATENT_STREAM, c, width, enc.frames)`."""
        ...

    def vocode(self, z: Any, frames: np.ndarray, g: Any | None) -> Any:
        """Stage 2b: the decoder over (a window of) latent frames z [b, c, t] of which the first
        `frames[i]` are real; audio [b, t * hop] float32 on the device."""
        ...

    # Optional: runtimes that compile per shape also define
    #   warmup(buckets: BucketConfig, batch_sizes: tuple[int, ...], window_sizes: tuple[int, ...]) -> None
    # which builds every graph for those batch sizes, the bucket edges and the streaming decoder window
    # sizes, so that no request ever triggers a compilation (`Engine.warmup` calls it). Runtimes on a CPU
    # that spread one pass over threads define `decode_rows` (rows a decoder pass should have).
