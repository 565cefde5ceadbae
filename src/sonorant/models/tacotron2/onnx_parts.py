"""Tacotron2 + WaveGlow as ONNX outside sonorant's stage graphs: NVIDIA's four TensorRT-demo parts, and one
graph for the whole acoustic model with the decoder as an ONNX `Loop`.

**`export_nvidia_parts`** writes the four files of NVIDIA DeepLearningExamples' TensorRT demo
(`tensorrt/convert_tacotron22onnx.py`, `convert_waveglow2onnx.py`) with its input and output names, from our
own modules (`NVIDIA_IO` lists the names):

- `encoder.onnx`: sequences [b, T] i64, sequence_lengths [b] i64 -> memory [b, T, E], processed_memory
  [b, T, A], lens [b] i64. Our `lens` is `sequence_lengths` itself (the demo's export writes twice the
  lengths, a value its TensorRT driver never reads).
- `decoder_iter.onnx`: one decoder step. The prenet's dropout stays on at inference, as in DLE: one
  `RandomUniformLike` draw u [b, 2 * prenet_dim] per call, keep = u < 0.5 per row and unit (the first
  prenet_dim columns for the first layer), x * keep * 2. (The demo draws one mask per step shared by every
  row.) `mask` [b, T] is bool, True on padding.
- `postnet.onnx`: mel_outputs [b, n_mel, T] -> mel_outputs_postnet = mel + postnet(mel) (no padding mask).
- `waveglow.onnx`: mel [b, n_mel, T], z [b, n_group, T * hop / n_group] unit Gaussian draws -> audio
  [b, T * hop], with sigma fixed at export. Every channel of z is scaled by sigma (as `WaveGlow.infer`'s
  callers and DLE's own `WaveGlow.infer` do); the demo's `infer_onnx` scales only the first
  `remaining_channels` (4 of 8), so its early outputs use unscaled draws. The denoiser is not part of it.

The batch axis is dynamic on every input (the demo fixes it to 1 except in WaveGlow), and so are the
sequence axes the demo's are.

**`export_loop_graph`** writes one graph: sequences [b, T] i64, sequence_lengths [b] i64, prenet_masks
[b, 2 * prenet_dim, S] f32 (step s keeps unit j where prenet_masks[:, j, s] > 0, the decode stage's noise
convention), gate_threshold [b] f32 -> mel [b, n_mel, steps] (mel + postnet, zero past each row's count),
mel_lengths [b] i64 (frames per row, the step its gate fired on included) and gate_fired [b] bool (False
for a row still live after S steps: its length is then S and it did not finish). It is composed with the
`onnx` helper API from three traced graphs: the encoder, a one-step `DecodeStage` (the `Loop` body: it
reads the memory and knobs from the outer graph, slices its step's mask column by the iteration number,
carries state / attention / live / count, emits its frame as a scan output, and continues while any row
is live, so it runs at most S and usually fewer iterations) and the postnet, masked by the counts.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .layers import DecoderState, length_mask
from .model import Tacotron2
from .spec import KNOB_NAMES
from .stages import DecodeStage

if TYPE_CHECKING:
    from .voice import Tacotron2Voice

OPSET = 17
"""Opset of every graph here (TensorRT's ONNX parser and ONNX Runtime both take it)."""

NVIDIA_IO: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "encoder": (("sequences", "sequence_lengths"), ("memory", "processed_memory", "lens")),
    "decoder_iter": (
        ("decoder_input", "attention_hidden", "attention_cell", "decoder_hidden", "decoder_cell",
         "attention_weights", "attention_weights_cum", "attention_context", "memory", "processed_memory", "mask"),
        ("decoder_output", "gate_prediction", "out_attention_hidden", "out_attention_cell", "out_decoder_hidden",
         "out_decoder_cell", "out_attention_weights", "out_attention_weights_cum", "out_attention_context")),
    "postnet": (("mel_outputs",), ("mel_outputs_postnet",)),
    "waveglow": (("mel", "z"), ("audio",)),
}
"""Part -> (input names, output names), as the demo's exporter names them."""

LOOP_INPUTS = ("sequences", "sequence_lengths", "prenet_masks", "gate_threshold")
"""Inputs of the Loop graph, in order."""
LOOP_OUTPUTS = ("mel", "mel_lengths", "gate_fired")
"""Outputs of the Loop graph, in order."""


class EncoderPart(nn.Module):
    """encoder.onnx: (sequences, sequence_lengths) -> (memory, processed_memory, lens)."""

    def __init__(self, model: Tacotron2) -> None:
        super().__init__()
        self.model = model

    def forward(self, sequences: torch.Tensor, sequence_lengths: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        memory, processed = self.model.encode(sequences, sequence_lengths)  # [b, t, e], [b, t, a]
        return memory, processed, sequence_lengths + 0  # `+ 0`: an output distinct from the input


class DecoderIterPart(nn.Module):
    """decoder_iter.onnx: one decoder step with the prenet's dropout drawn inside (see the module docstring)."""

    def __init__(self, model: Tacotron2) -> None:
        super().__init__()
        self.model = model

    def forward(self, decoder_input: torch.Tensor, attention_hidden: torch.Tensor, attention_cell: torch.Tensor,
                decoder_hidden: torch.Tensor, decoder_cell: torch.Tensor, attention_weights: torch.Tensor,
                attention_weights_cum: torch.Tensor, attention_context: torch.Tensor, memory: torch.Tensor,
                processed_memory: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        p = self.model.cfg.prenet_dim
        shape = decoder_input.new_zeros((decoder_input.shape[0], 2 * p))  # [b, 2p]
        keep = (torch.rand_like(shape) < 0.5).to(decoder_input.dtype)  # [b, 2p]: RandomUniformLike
        state = DecoderState(attention_hidden, attention_cell, decoder_hidden, decoder_cell, attention_context,
                             decoder_input, attention_weights, attention_weights_cum)
        nxt, gate = self.model.decoder.step(state, memory, processed_memory, mask, (keep[:, :p], keep[:, p:]))
        return (nxt.frame, gate[:, None], nxt.attention_hidden, nxt.attention_cell, nxt.decoder_hidden,
                nxt.decoder_cell, nxt.weights, nxt.cumulative, nxt.context)


class PostnetPart(nn.Module):
    """postnet.onnx: mel_outputs [b, n_mel, t] -> mel + postnet(mel)."""

    def __init__(self, model: Tacotron2) -> None:
        super().__init__()
        self.model = model

    def forward(self, mel_outputs: torch.Tensor) -> torch.Tensor:
        return mel_outputs + self.model.postnet(mel_outputs)


class WaveGlowPart(nn.Module):
    """waveglow.onnx: (mel, z unit draws) -> audio, every draw scaled by the `sigma` fixed here."""

    def __init__(self, waveglow: nn.Module, sigma: float) -> None:
        super().__init__()
        self.waveglow = waveglow
        self.sigma = float(sigma)

    def forward(self, mel: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.waveglow.infer(mel, z * self.sigma, None)  # [b, t * hop]


def _nvidia_examples(voice: Tacotron2Voice, b: int = 2, t_x: int = 11, t_y: int = 9) -> dict[str, tuple]:
    """Tracing inputs of each part."""
    cfg = voice.tacotron2.cfg
    g = torch.Generator().manual_seed(0)
    lengths = torch.tensor([t_x] + [max(1, t_x - 3)] * (b - 1))
    pad = length_mask(lengths, t_x, torch.float32) == 0  # [b, t_x]

    def r(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * 0.1

    return {
        "encoder": (torch.randint(0, cfg.n_symbols, (b, t_x), generator=g), lengths),
        "decoder_iter": (r(b, cfg.n_mel), r(b, cfg.attention_rnn_dim), r(b, cfg.attention_rnn_dim),
                         r(b, cfg.decoder_rnn_dim), r(b, cfg.decoder_rnn_dim), torch.zeros(b, t_x),
                         torch.zeros(b, t_x), r(b, cfg.encoder_dim), r(b, t_x, cfg.encoder_dim),
                         r(b, t_x, cfg.attention_dim), pad),
        "postnet": (r(b, cfg.n_mel, t_y),),
        "waveglow": (r(b, cfg.n_mel, t_y), torch.randn(b, voice.waveglow.cfg.n_group,
                                                      t_y * voice.waveglow.cfg.hop // voice.waveglow.cfg.n_group)),
    }


_NVIDIA_AXES: dict[str, dict[str, dict[int, str]]] = {
    "encoder": {"sequences": {0: "batch", 1: "text_seq"}, "sequence_lengths": {0: "batch"},
                "memory": {0: "batch", 1: "mem_seq"}, "processed_memory": {0: "batch", 1: "mem_seq"},
                "lens": {0: "batch"}},
    "decoder_iter": {
        **{n: {0: "batch"} for n in NVIDIA_IO["decoder_iter"][0] + NVIDIA_IO["decoder_iter"][1]},
        **{n: {0: "batch", 1: "seq_len"} for n in ("attention_weights", "attention_weights_cum", "memory",
                                                   "processed_memory", "mask", "out_attention_weights",
                                                   "out_attention_weights_cum")}},
    "postnet": {"mel_outputs": {0: "batch", 2: "mel_seq"}, "mel_outputs_postnet": {0: "batch", 2: "mel_seq"}},
    "waveglow": {"mel": {0: "batch_size", 2: "mel_seq"}, "z": {0: "batch_size", 2: "z_seq"},
                 "audio": {0: "batch_size", 1: "audio_seq"}},
}


def export_onnx(module: nn.Module, args: tuple[torch.Tensor, ...], path: Path, inputs: list[str] | tuple[str, ...],
                outputs: list[str] | tuple[str, ...], axes: Mapping[str, Mapping[int, str]]) -> Path:
    """Trace `module` on `args` with the TorchScript exporter at `OPSET` and write `path` (the family's own
    helper, so `models/` does not import `runtimes/`). The exporter's notes on traced shape arithmetic and its
    LSTM batch-size warning (our LSTMs start from zero states built for whatever batch they get) are hidden."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1", category=UserWarning)
        warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size other than 1")
        torch.onnx.export(module, args, str(path), dynamo=False, opset_version=OPSET, input_names=list(inputs),
                          output_names=list(outputs), do_constant_folding=True,
                          dynamic_axes={k: dict(v) for k, v in axes.items() if k in (*inputs, *outputs)})
    return path


def _sigma_default(voice: Tacotron2Voice) -> float:
    return float(voice.spec.knob("sigma").default)


def export_nvidia_parts(voice: Tacotron2Voice, directory: str | Path, sigma: float | None = None
                        ) -> dict[str, Path]:
    """Write encoder.onnx, decoder_iter.onnx, postnet.onnx and waveglow.onnx (NVIDIA's TensorRT demo's parts,
    `NVIDIA_IO` names) into `directory`; `sigma` is WaveGlow's draw scale (None: the voice's sigma knob
    default). Returns part -> path. The voice is left in the train/eval mode it was in."""
    directory = Path(directory)
    sigma = _sigma_default(voice) if sigma is None else float(sigma)
    modules: dict[str, nn.Module] = {
        "encoder": EncoderPart(voice.tacotron2), "decoder_iter": DecoderIterPart(voice.tacotron2),
        "postnet": PostnetPart(voice.tacotron2), "waveglow": WaveGlowPart(voice.waveglow, sigma)}
    examples = _nvidia_examples(voice)
    was_training = voice.training
    voice.eval()
    try:
        paths = {}
        for part, module in modules.items():
            inputs, outputs = NVIDIA_IO[part]
            paths[part] = export_onnx(module.eval(), examples[part], directory / f"{part}.onnx", inputs, outputs,
                                      _NVIDIA_AXES[part])
    finally:
        voice.train(was_training)
    return paths


# --- the Loop graph ------------------------------------------------------------------------------------------


class _LoopPre(nn.Module):
    """The Loop graph's head: encoder, knobs and the decoder's initial carried values."""

    def __init__(self, model: Tacotron2) -> None:
        super().__init__()
        self.model = model

    def forward(self, sequences: torch.Tensor, sequence_lengths: torch.Tensor, gate_threshold: torch.Tensor
                ) -> tuple[torch.Tensor, ...]:
        cfg = self.model.cfg
        memory, processed = self.model.encode(sequences, sequence_lengths)  # [b, t, e], [b, t, a]
        tokens = torch.cat([memory, processed], 2).transpose(1, 2)  # [b, e + a, t]
        b, t = sequences.shape
        id_mask = length_mask(sequence_lengths, t, memory.dtype)  # [b, t]
        columns = [gate_threshold.to(memory.dtype) if name == "gate_threshold" else
                   gate_threshold.new_zeros(gate_threshold.shape).to(memory.dtype) for name in KNOB_NAMES]
        knobs = torch.stack(columns, 1)  # [b, K]
        state = memory.new_zeros((b, cfg.state_channels))  # [b, S]
        attn = memory.new_zeros((b, 2, t))  # [b, 2, t]
        live = id_mask[:, 0] * 0 + 1  # [b] ones
        count = sequence_lengths * 0  # [b] i64 zeros
        return tokens, id_mask, knobs, state, attn, live, count


class _LoopPost(nn.Module):
    """The Loop graph's tail: the scanned frames [steps, b, n_mel, 1] and counts -> masked mel + postnet."""

    def __init__(self, model: Tacotron2) -> None:
        super().__init__()
        self.model = model

    def forward(self, frames: torch.Tensor, count: torch.Tensor, live: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mel = frames[:, :, :, 0].permute(1, 2, 0)  # [b, n_mel, steps]
        mask = length_mask(count, mel.shape[2], mel.dtype)[:, None]  # [b, 1, steps]
        return self.model.post(mel, mask), count + 0, live <= 0


def _traced(module: nn.Module, args: tuple[torch.Tensor, ...], path: Path, inputs: list[str], outputs: list[str],
            axes: Mapping[str, Mapping[int, str]]) -> Any:
    import onnx

    export_onnx(module.eval(), args, path, inputs, outputs, axes)
    return onnx.load(str(path))


def _renamed(graph: Any, prefix: str, names: Mapping[str, str]) -> tuple[list[Any], list[Any]]:
    """(nodes, initializers) of `graph` with every value name n renamed to names[n], or prefix + n."""
    import onnx

    def rename(n: str) -> str:
        return n if n == "" else names.get(n, prefix + n)

    def walk(nodes: Any) -> list[Any]:
        out = []
        for node in nodes:
            node = onnx.NodeProto.FromString(node.SerializeToString())
            node.input[:] = [rename(n) for n in node.input]
            node.output[:] = [rename(n) for n in node.output]
            node.name = prefix + node.name
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    sub = list(attr.g.node)
                    del attr.g.node[:]
                    attr.g.node.extend(walk(sub))
            out.append(node)
        return out

    inits = []
    for init in graph.initializer:
        init = onnx.TensorProto.FromString(init.SerializeToString())
        init.name = rename(init.name)
        inits.append(init)
    return walk(graph.node), inits


def export_loop_graph(voice: Tacotron2Voice, path: str | Path, t_x: int = 9, steps: int = 4) -> Path:
    """Write the whole acoustic model (encoder, decoder `Loop`, postnet) as one ONNX graph at `path` (see the
    module docstring for its inputs and outputs); `t_x` and `steps` size the tracing examples only (every
    batch, id and step axis is dynamic). Returns `path`."""
    import tempfile

    import onnx
    from onnx import TensorProto, helper

    path = Path(path)
    model = voice.tacotron2
    cfg = model.cfg
    was_training = voice.training
    voice.eval()
    b = 2
    g = torch.Generator().manual_seed(0)
    sequences = torch.randint(0, cfg.n_symbols, (b, t_x), generator=g)
    lengths = torch.tensor([t_x, max(1, t_x - 3)])
    thr = torch.full((b,), cfg.gate_threshold)
    pre, step = _LoopPre(model), DecodeStage(model, 1)
    try:
        with torch.no_grad():
            tokens, id_mask, knobs, state, attn, live, count = pre(sequences, lengths, thr)
            noise = torch.randn(b, 2 * cfg.prenet_dim, 1, generator=g)
            frames = step(tokens, id_mask, state, attn, live, count, knobs, noise)[4]
        scanned = frames.permute(2, 0, 1)[..., None].expand(steps, b, cfg.n_mel, 1).contiguous()
        carried = ["state", "attn", "live", "count"]
        with tempfile.TemporaryDirectory() as tmp:
            t = Path(tmp)
            pre_g = _traced(pre, (sequences, lengths, thr), t / "pre.onnx",
                            ["sequences", "sequence_lengths", "gate_threshold"],
                            ["tokens", "id_mask", "knobs", *(c + "_0" for c in carried)],
                            {"sequences": {0: "b", 1: "t_x"}, "sequence_lengths": {0: "b"},
                             "gate_threshold": {0: "b"}}).graph
            step_g = _traced(step, (tokens, id_mask, state, attn, live, count, knobs, noise), t / "step.onnx",
                             ["tokens", "id_mask", *carried, "knobs", "noise"],
                             [c + "_out" for c in carried] + ["frame"],
                             {"tokens": {0: "b", 2: "t_x"}, "id_mask": {0: "b", 1: "t_x"}, "state": {0: "b"},
                              "attn": {0: "b", 2: "t_x"}, "live": {0: "b"}, "count": {0: "b"},
                              "knobs": {0: "b"}, "noise": {0: "b"}}).graph
            post_g = _traced(_LoopPost(model), (scanned, count, live), t / "post.onnx",
                             ["frames", "count", "live"], list(LOOP_OUTPUTS),
                             {"frames": {0: "steps", 1: "b"}, "count": {0: "b"}, "live": {0: "b"}}).graph
    finally:
        voice.train(was_training)

    # Head: the graph inputs keep their names; its outputs are the Loop's outer-scope values.
    pre_nodes, pre_inits = _renamed(pre_g, "pre/", {n: n for n in ("sequences", "sequence_lengths",
                                                                    "gate_threshold", "tokens", "id_mask", "knobs",
                                                                    *(c + "_0" for c in carried))})
    # Body: one decode step reading tokens / id_mask / knobs from the outer scope and its mask column.
    body_names = {"tokens": "tokens", "id_mask": "id_mask", "knobs": "knobs", "noise": "body/noise",
                  **{c: f"body/{c}_in" for c in carried}, **{c + "_out": f"body/{c}_out" for c in carried},
                  "frame": "body/frame"}
    step_nodes, step_inits = _renamed(step_g, "step/", body_names)
    i64 = TensorProto.INT64
    body_head = [
        helper.make_node("Constant", [], ["body/axes0"], value=helper.make_tensor("a0", i64, [1], [0])),
        helper.make_node("Constant", [], ["body/axes2"], value=helper.make_tensor("a2", i64, [1], [2])),
        helper.make_node("Constant", [], ["body/one"], value=helper.make_tensor("one", i64, [1], [1])),
        helper.make_node("Unsqueeze", ["body/iter", "body/axes0"], ["body/start"]),
        helper.make_node("Add", ["body/start", "body/one"], ["body/end"]),
        helper.make_node("Slice", ["prenet_masks", "body/start", "body/end", "body/axes2"], ["body/noise"]),
    ]
    body_tail = [
        helper.make_node("ReduceMax", ["body/live_out"], ["body/live_max"], keepdims=0),
        helper.make_node("Constant", [], ["body/zero"], value=helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])),
        helper.make_node("Greater", ["body/live_max", "body/zero"], ["body/cond_out"]),
    ]
    types = {"state": (TensorProto.FLOAT, ["b", cfg.state_channels]), "attn": (TensorProto.FLOAT, ["b", 2, "t_x"]),
             "live": (TensorProto.FLOAT, ["b"]), "count": (i64, ["b"])}
    body = helper.make_graph(
        body_head + step_nodes + body_tail, "decode_step",
        [helper.make_tensor_value_info("body/iter", i64, []),
         helper.make_tensor_value_info("body/cond_in", TensorProto.BOOL, []),
         *(helper.make_tensor_value_info(f"body/{c}_in", *types[c]) for c in carried)],
        [helper.make_tensor_value_info("body/cond_out", TensorProto.BOOL, []),
         *(helper.make_tensor_value_info(f"body/{c}_out", *types[c]) for c in carried),
         helper.make_tensor_value_info("body/frame", TensorProto.FLOAT, ["b", cfg.n_mel, 1])])
    loop_nodes = [
        helper.make_node("Shape", ["prenet_masks"], ["loop/mask_shape"]),
        helper.make_node("Constant", [], ["loop/two"], value=helper.make_tensor("two", i64, [], [2])),
        helper.make_node("Gather", ["loop/mask_shape", "loop/two"], ["loop/max_steps"], axis=0),
        helper.make_node("Constant", [], ["loop/true"], value=helper.make_tensor("t", TensorProto.BOOL, [], [True])),
        helper.make_node("Loop", ["loop/max_steps", "loop/true", *(c + "_0" for c in carried)],
                         [*(f"loop/{c}" for c in carried), "loop/frames"], body=body),
    ]
    post_nodes, post_inits = _renamed(post_g, "post/", {"frames": "loop/frames", "count": "loop/count",
                                                        "live": "loop/live", **{o: o for o in LOOP_OUTPUTS}})
    graph = helper.make_graph(
        pre_nodes + loop_nodes + post_nodes, "tacotron2_loop",
        [helper.make_tensor_value_info("sequences", i64, ["batch", "text_seq"]),
         helper.make_tensor_value_info("sequence_lengths", i64, ["batch"]),
         helper.make_tensor_value_info("prenet_masks", TensorProto.FLOAT, ["batch", 2 * cfg.prenet_dim, "max_steps"]),
         helper.make_tensor_value_info("gate_threshold", TensorProto.FLOAT, ["batch"])],
        [helper.make_tensor_value_info("mel", TensorProto.FLOAT, ["batch", cfg.n_mel, "steps"]),
         helper.make_tensor_value_info("mel_lengths", i64, ["batch"]),
         helper.make_tensor_value_info("gate_fired", TensorProto.BOOL, ["batch"])],
        initializer=pre_inits + step_inits + post_inits)
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                   producer_name="sonorant")
    onnx_model.ir_version = min(onnx_model.ir_version, 9)
    onnx.checker.check_model(onnx_model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(onnx_model, str(path))
    return path


def extra_exports(voice: Tacotron2Voice) -> dict[str, Callable[[Path], list[Path]]]:
    """`Tacotron2Voice.extra_exports`: "nvidia" (the four demo parts) and "loop" (tacotron2_loop.onnx)."""
    return {
        "nvidia": lambda directory: list(export_nvidia_parts(voice, directory).values()),
        "loop": lambda directory: [export_loop_graph(voice, Path(directory) / "tacotron2_loop.onnx")],
    }
