"""The seam between the engine and whatever executes a family's stages (`sonorant.models.base`).

Inputs the engine prepares on the host (ids, lengths, knobs, seeds, speaker ids) arrive as numpy arrays;
the runtime moves them to its device. Stage outputs stay on the device in the runtime's own array type,
which the engine handles only through the runtime's `ops` (`sonorant.arrays.Ops`). Noise is the runtime's
job too: it computes it from the seeds on its device, so no noise ever crosses from the host.

`StageRunner` implements the protocol once for every runtime: it names each stage's inputs from the
family's spec (`stage_inputs`), makes the noise and masks, and calls the runtime's `run_stage`, which
is all a runtime has to provide (eager calls the modules, compile calls compiled graphs, onnx calls ONNX
Runtime sessions, tensorrt engines; xla makes its noise inside its graphs and overrides the rest).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import numpy as np

from ..arrays import Ops
from ..models.base import Encoded, FamilySpec
from .decoding import DecodeCounter, decode_all, decode_blocks

GRAPHS = ("encode", "decode", "frames", "vocode", "vocode_full")
"""The graphs a family can have: its stages, and the vocoder without padding masks (`vocode_full`, for
passes whose rows all fill the window: the same samples, less work). "decode" only for autoregressive
families (`graphs`)."""


def graphs(spec: FamilySpec) -> tuple[str, ...]:
    """The graphs of a family with `spec`."""
    return tuple(g for g in GRAPHS if g != "decode" or spec.decoder is not None)


def stage_inputs(spec: FamilySpec, graph: str) -> list[str]:
    """Names of `graph`'s inputs, in the stage module's argument order, for a family with `spec`."""
    if graph == "encode":
        return (["ids", "lengths", "knobs"] + (["noise"] if spec.encode_noise else [])
                + (["sid"] if spec.multi_speaker else []))
    if graph == "decode":
        if spec.decoder is None:
            raise ValueError(f"the {spec.family} family has no decode stage")
        return (["tokens", "id_mask", "state", "attn", "live", "count", "knobs"]
                + (["noise"] if spec.decoder.noise else []))
    if graph == "frames":
        return (["tokens"] + ([] if spec.decoder else ["durations"]) + ["mask", "knobs"]
                + (["noise"] if spec.frames_noise else []) + (["g"] if spec.cond_channels else []))
    if graph in ("vocode", "vocode_full"):
        return ["z"] + (["lengths"] if graph == "vocode" else []) + (["g"] if spec.cond_channels else [])
    raise ValueError(f"unknown stage graph {graph!r}")


def stage_outputs(spec: FamilySpec, graph: str) -> list[str]:
    """Names of `graph`'s outputs."""
    if graph == "encode":
        return ["tokens"] + ([] if spec.decoder else ["durations", "frames"]) + (["g"] if spec.cond_channels else [])
    if graph == "decode":
        return ["state_next", "attn_next", "live_next", "count_next", "decoded"]
    return ["z"] if graph == "frames" else ["audio"]


AXES: dict[str, dict[int, str]] = {
    "ids": {0: "batch", 1: "ids"}, "lengths": {0: "batch"}, "knobs": {0: "batch"}, "sid": {0: "batch"},
    "tokens": {0: "batch", 2: "ids"}, "durations": {0: "batch", 1: "ids"}, "frames": {0: "batch"},
    "g": {0: "batch"}, "mask": {0: "batch", 2: "frames"}, "z": {0: "batch", 2: "frames"},
    "audio": {0: "batch", 1: "samples"}, "id_mask": {0: "batch", 1: "ids"}, "state": {0: "batch"},
    "attn": {0: "batch", 2: "ids"}, "live": {0: "batch"}, "count": {0: "batch"}, "state_next": {0: "batch"},
    "attn_next": {0: "batch", 2: "ids"}, "live_next": {0: "batch"}, "count_next": {0: "batch"},
    "decoded": {0: "batch"},
}
"""The named dynamic axes of every stage input and output (the noise follows its stage's axis)."""


def axes(name: str, graph: str, spec: FamilySpec | None = None) -> dict[int, str]:
    """Dynamic axes of input or output `name` of `graph` (of a family with `spec`: an autoregressive
    family's frames stage takes decoded frames as its tokens)."""
    if name == "noise":
        return {0: "batch"} if graph == "decode" else {0: "batch", 2: "ids" if graph == "encode" else "frames"}
    if name == "tokens" and graph == "frames" and spec is not None and spec.decoder is not None:
        return {0: "batch", 2: "frames"}
    return AXES[name]


class Runtime(Protocol):
    """Executes a family's `encode`, `frames` and `vocode` stages (eager, compiled, exported, ...)."""

    name: str
    """Short name used on the command line and in engine configs."""
    static_shapes: bool
    """True if inputs must be padded to bucket sizes (compiled graphs); False runs exact shapes."""
    device: str
    """Where the stages run: "cpu", "cuda:0", "xla:0", ..."""
    spec: FamilySpec
    """What the family is (hop, channels, knobs, reaches, noise)."""
    ops: Ops
    """Array operations on what the stages return."""

    def encode(self, ids: np.ndarray, lengths: np.ndarray, knobs: np.ndarray, seeds: np.ndarray,
               sid: np.ndarray | None) -> Encoded:
        """Stage 1 for a padded batch: ids [b, t_x] int64, lengths / seeds [b], knobs [b, K] float32."""
        ...

    def frames(self, enc: Encoded, knobs: np.ndarray, seeds: np.ndarray, width: int) -> Any:
        """Stage 2: the vocoder's input frames [b, C, width], zero past each row's frame count."""
        ...

    def vocode(self, z: Any, frames: np.ndarray, g: Any | None) -> Any:
        """Stage 3: the vocoder over (a window of) frames z [b, C, t] of which the first `frames[i]`
        are real; audio [b, t * hop] float32 on the device."""
        ...

    # Optional: runtimes that compile per shape also define
    #   warmup(buckets: BucketConfig, batch_sizes: tuple[int, ...], window_sizes: tuple[int, ...]) -> None
    # which builds every graph for those batch sizes, the bucket edges and the streaming window sizes,
    # so that no request ever triggers a compilation (`Engine.warmup` calls it). Runtimes on a CPU that
    # spread one pass over threads define `decode_rows` (rows a vocoder pass should have).


class StageRunner(ABC):
    """The `Runtime` protocol over `run_stage(graph, feeds) -> outputs`, for runtimes whose graphs take
    the noise as an input (all but xla). Subclasses set `spec` and `ops`."""

    spec: FamilySpec
    ops: Ops
    decode_counter: DecodeCounter | None = None
    """When set, the autoregressive decode loop counts its blocks and host reads into it."""

    @abstractmethod
    def run_stage(self, graph: str, feeds: Mapping[str, Any]) -> list[Any]:
        """Run one graph (`GRAPHS`) on device arrays named as `stage_inputs` names them."""

    def encode(self, ids: np.ndarray, lengths: np.ndarray, knobs: np.ndarray, seeds: np.ndarray,
               sid: np.ndarray | None) -> Encoded:
        return self.encode_blocks(ids, lengths, knobs, seeds, sid)

    def encode_blocks(self, ids: np.ndarray, lengths: np.ndarray, knobs: np.ndarray, seeds: np.ndarray,
                      sid: np.ndarray | None, max_blocks: int | None = None) -> Encoded:
        """`encode`; an autoregressive family decodes at most `max_blocks` blocks (warm-ups: every graph is
        built, no utterance needs to end)."""
        out, feeds = self._encode_graph(ids, lengths, knobs, seeds, sid)
        o, spec = self.ops, self.spec
        if spec.decoder is None:
            return Encoded(out[0], out[1], out[2], out[3] if spec.cond_channels else None)
        decoded, counts = decode_all(spec, o, lambda f: self.run_stage("decode", f), out[0], feeds["lengths"],
                                     feeds["knobs"], o.asarray(seeds), self.decode_counter, max_blocks)
        return Encoded(decoded, None, counts, out[1] if spec.cond_channels else None)

    def decode_stream(self, ids: np.ndarray, lengths: np.ndarray, knobs: np.ndarray, seeds: np.ndarray,
                      sid: np.ndarray | None) -> Iterator[tuple[Encoded, bool]]:
        """An autoregressive family's `encode`, block by block: after each block, the frames decoded so far
        (tokens [b, Cd, steps so far], counts [b] on the device) and whether every row is done. Streaming
        vocodes the frames that are final while the decoder goes on."""
        out, feeds = self._encode_graph(ids, lengths, knobs, seeds, sid)
        o, spec = self.ops, self.spec
        g = out[1] if spec.cond_channels else None
        for blocks, counts, done in decode_blocks(spec, o, lambda f: self.run_stage("decode", f), out[0],
                                                  feeds["lengths"], feeds["knobs"], o.asarray(seeds),
                                                  self.decode_counter):
            yield Encoded(o.concat(blocks, axis=2), None, counts, g), done

    def _encode_graph(self, ids: np.ndarray, lengths: np.ndarray, knobs: np.ndarray, seeds: np.ndarray,
                      sid: np.ndarray | None) -> tuple[list[Any], dict[str, Any]]:
        """The encode graph's outputs and the device inputs it was fed."""
        o, spec = self.ops, self.spec
        lengths_d = o.asarray(lengths)
        feeds = {"ids": o.asarray(ids), "lengths": lengths_d, "knobs": o.asarray(knobs)}
        if spec.encode_noise:
            n = spec.encode_noise
            feeds["noise"] = o.normal(o.asarray(seeds), n.stream, n.channels, ids.shape[1], lengths_d)  # [b, ce, t_x]
        if spec.multi_speaker:
            feeds["sid"] = o.asarray(sid if sid is not None else np.zeros(ids.shape[0], dtype=np.int64))
        return self.run_stage("encode", feeds), feeds

    def frames(self, enc: Encoded, knobs: np.ndarray, seeds: np.ndarray, width: int) -> Any:
        o, spec = self.ops, self.spec
        feeds = {"tokens": enc.tokens, "durations": enc.durations, "mask": o.mask(enc.frames, width),
                 "knobs": o.asarray(knobs)}
        if spec.decoder is not None:  # the decoded frames, cut or padded to the frame bucket
            del feeds["durations"]
            feeds["tokens"] = o.pad_last(enc.tokens[..., :width], width)
        if spec.frames_noise:
            n = spec.frames_noise
            feeds["noise"] = o.normal(o.asarray(seeds), n.stream, n.channels, width, enc.frames)  # [b, cz, width]
        if spec.cond_channels:
            feeds["g"] = enc.g
        return self.run_stage("frames", feeds)[0]

    def vocode(self, z: Any, frames: np.ndarray, g: Any | None) -> Any:
        frames = np.asarray(frames, dtype=np.int64)
        full = bool((frames == z.shape[-1]).all())  # no padding: the unmasked graph gives the same samples
        feeds: dict[str, Any] = {"z": z}
        if not full:
            feeds["lengths"] = self.ops.asarray(frames)
        if self.spec.cond_channels:
            feeds["g"] = g
        return self.run_stage("vocode_full" if full else "vocode", feeds)[0]
