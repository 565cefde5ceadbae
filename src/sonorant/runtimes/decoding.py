"""The host side of an autoregressive family's decode stage (`models.base`): the loop over fixed-size
blocks of steps.

Each call of the decode graph advances every row of the batch by `Decoder.block` steps on the device;
a row whose gate fired stops changing and stops counting inside the graph, so the loop needs exactly one
device-to-host read per block (the `live` flags, [b] floats) to know when every row is done, never one
per step, and every call has the same shapes (one compiled graph per batch size and id bucket). The
noise of the block starting at step s covers steps s .. s + block - 1 (`Ops.normal(..., offset=s)`), so a
row's draws depend on its seed and step only: the same in any batch, bucket or block size.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from ..arrays import Ops
from ..errors import DecodeLimitError
from ..models.base import FamilySpec

_LOG = logging.getLogger(__name__)

RunDecode = Callable[[Mapping[str, Any]], list[Any]]
"""Runs the decode graph on named device arrays (`runtimes.base.stage_inputs(spec, "decode")`) and returns
its outputs in `stage_outputs` order."""


class DecodeCounter:
    """Counts decode calls and host reads of one `decode_all` (tests and the bench read it)."""

    def __init__(self) -> None:
        self.blocks = 0
        """Decode graph calls."""
        self.host_reads = 0
        """Device-to-host reads of the live flags."""


def decode_all(spec: FamilySpec, ops: Ops, run: RunDecode, tokens: Any, lengths: Any, knobs: Any, seeds: Any,
               counter: DecodeCounter | None = None, max_blocks: int | None = None) -> tuple[Any, Any]:
    """Decode a batch to the end: tokens [b, Ct, t_x] from encode, lengths / seeds [b] and knobs [b, K] on
    the device. Returns the decoded frames [b, Cd, n * block] (zero past each row's count) and the counts
    [b] int64, both on the device.

    Raises `DecodeLimitError` if a row's gate has not fired after `Decoder.max_steps` steps (never a silent
    cut: its audio would stop mid-word). `max_blocks` stops after that many blocks without an error (for
    warm-ups that only need every graph built once)."""
    last: tuple[list[Any], Any, bool] | None = None
    for last in decode_blocks(spec, ops, run, tokens, lengths, knobs, seeds, counter, max_blocks):
        pass
    assert last is not None  # at least one block always runs
    blocks, count, _ = last
    return ops.concat(blocks, axis=2), count


def decode_blocks(spec: FamilySpec, ops: Ops, run: RunDecode, tokens: Any, lengths: Any, knobs: Any, seeds: Any,
                  counter: DecodeCounter | None = None, max_blocks: int | None = None
                  ) -> Iterator[tuple[list[Any], Any, bool]]:
    """`decode_all` one block at a time: after each block, (the decoded blocks so far, each [b, Cd, block],
    the counts [b] on the device, whether every row is done). Streaming starts the vocoder on the frames
    that are final while later blocks are still to come."""
    dec = spec.decoder
    if dec is None:
        raise ValueError(f"the {spec.family} family has no decode stage")
    b, t_x = tokens.shape[0], tokens.shape[-1]
    feeds: dict[str, Any] = {
        "tokens": tokens,
        "id_mask": ops.mask(lengths, t_x)[:, 0],  # [b, t_x]
        "state": ops.zeros((b, dec.state_channels), like=tokens),
        "attn": ops.zeros((b, dec.attn_channels, t_x), like=tokens),
        "live": ops.asarray(np.ones(b, dtype=np.float32)),
        "count": ops.asarray(np.zeros(b, dtype=np.int64)),
        "knobs": knobs,
    }
    unmasked = ops.asarray(np.full(b, np.iinfo(np.int64).max, dtype=np.int64))  # decode noise is never cut
    blocks: list[Any] = []
    live_host = np.ones(b, dtype=np.float32)
    for start in range(0, dec.max_steps, dec.block):
        if dec.noise is not None:
            n = dec.noise
            # [b, cn, block]: the draws of steps start .. start + block - 1
            feeds["noise"] = ops.normal(seeds, n.stream, n.channels, dec.block, unmasked, offset=start)
        state, attn, live, count, decoded = run(feeds)
        feeds.update(state=state, attn=attn, live=live, count=count)
        blocks.append(decoded)  # [b, cd, block]
        live_host = ops.to_host(live)  # the one host sync of this block
        if counter is not None:
            counter.blocks += 1
            counter.host_reads += 1
        done = not live_host.any()
        if len(blocks) == max_blocks:
            yield blocks, count, done
            return
        if done:
            if start + dec.block > dec.max_steps:  # the last block ran past the bound: did a row too?
                _check_bound(spec, b, live_host, ops.to_host(count))
            yield blocks, count, True
            return
        yield blocks, count, False
    _check_bound(spec, b, live_host, ops.to_host(feeds["count"]))


def _check_bound(spec: FamilySpec, b: int, live: np.ndarray, counts: np.ndarray) -> None:
    """Raise `DecodeLimitError` for rows still live or longer than the step bound."""
    assert spec.decoder is not None
    bound = spec.decoder.max_steps
    stuck = np.flatnonzero((live > 0) | (counts > bound))
    if stuck.size:
        raise DecodeLimitError(
            f"the {spec.family} decoder's stop gate did not fire within {bound} steps for "
            f"{stuck.size} of {b} utterances (rows {', '.join(map(str, stuck[:8].tolist()))}); the text may be "
            "too long for one utterance (split it), or the model does not stop on it")
