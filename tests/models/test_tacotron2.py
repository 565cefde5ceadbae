"""Tacotron2 (+ WaveGlow as a voice): parity with DLE on the committed fixtures, the decode stage against
the reference loop, padded batches equal to single utterances for every stage, the step limit, and the
family contract (spec, knobs, noise packing, receptive field of the frames stage)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from dle_cases import MEL_TOL, MEMORY_TOL, SNR_MIN_DB, TACOTRON2, WAVEGLOW, case, indices, snr_db

from sonorant.arrays import DURATION_STREAM, LATENT_STREAM
from sonorant.errors import DecodeLimitError, VoiceError
from sonorant.models.base import FamilySpec
from sonorant.models.tacotron2 import Tacotron2, Tacotron2Config, Tacotron2Voice
from sonorant.models.tacotron2.spec import PRENET_STREAM, WAVEGLOW_STREAM, tacotron2_spec
from sonorant.models.tacotron2.stages import decode_all, unpack_noise
from sonorant.models.waveglow import WaveGlow, WaveGlowConfig
from sonorant.voices.nvidia import load_tacotron2, load_waveglow


@pytest.fixture(scope="module")
def taco() -> Tacotron2:
    return load_tacotron2(TACOTRON2)


@pytest.fixture(scope="module")
def waveglow() -> WaveGlow:
    return load_waveglow(WAVEGLOW)


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    return case("tacotron2_tiny_ref")


def _ids(ref: dict[str, np.ndarray], i: int) -> torch.Tensor:
    return torch.from_numpy(ref[f"ids_{i}"]).long().reshape(1, -1)


def _masks(ref: dict[str, np.ndarray], i: int, p: int) -> torch.Tensor:
    """The recorded prenet keep masks of case i as [1, steps, 2, p]."""
    return torch.from_numpy(ref[f"masks_{i}"]).float().reshape(1, -1, 2, p)


def _noise(masks: torch.Tensor, width: int) -> torch.Tensor:
    """Decode-stage noise [1, 2p, width] whose sign reproduces masks [1, steps, 2, p] (then keeps all)."""
    steps, p = masks.shape[1], masks.shape[3]
    noise = torch.ones(1, 2 * p, width)
    noise[:, :, :steps] = (masks[0].reshape(steps, 2 * p).T * 2 - 1)[None]
    return noise


def _knobs(b: int, gate: float = 0.5, sigma: float = 0.6) -> torch.Tensor:
    return torch.tensor([[gate, sigma]] * b)


def _frames_count(ref: dict[str, np.ndarray], i: int) -> int:
    return int(np.asarray(ref[f"mel_length_{i}"]).reshape(-1)[0]) + 1


def test_default_config_is_dle() -> None:
    cfg = Tacotron2Config()
    assert (cfg.n_symbols, cfg.embedding_dim, cfg.encoder_convs, cfg.encoder_kernel, cfg.encoder_dim) == (148, 512, 3, 5, 512)
    assert (cfg.attention_rnn_dim, cfg.decoder_rnn_dim, cfg.prenet_dim, cfg.attention_dim) == (1024, 1024, 256, 128)
    assert (cfg.location_filters, cfg.location_kernel, cfg.postnet_dim, cfg.postnet_kernel, cfg.postnet_convs) == (
        32, 31, 512, 5, 5)
    assert (cfg.n_mel, cfg.gate_threshold, cfg.max_decoder_steps) == (80, 0.5, 2000)
    spec = tacotron2_spec(cfg, WaveGlowConfig())
    assert (spec.token_channels, spec.channels, spec.hop, spec.frames_reach) == (640, 336, 256, 10)
    assert spec.decoder is not None and spec.decoder.state_channels == 4 * 1024 + 512 + 80
    assert spec.decoder.noise is not None and spec.decoder.noise.channels == 512
    assert FamilySpec.from_dict(spec.to_dict()) == spec
    streams = {PRENET_STREAM, WAVEGLOW_STREAM, DURATION_STREAM, LATENT_STREAM}
    assert len(streams) == 4
    assert [k.name for k in spec.knobs] == ["gate_threshold", "sigma"]
    assert spec.knob("sigma").default == 0.6


def test_encoder_parity(taco: Tacotron2, ref: dict[str, np.ndarray]) -> None:
    for i in indices(ref, "ids"):
        ids = _ids(ref, i)
        with torch.no_grad():
            memory, _ = taco.encode(ids, torch.tensor([ids.shape[1]]))
        expected = ref[f"memory_{i}"].reshape(ids.shape[1], -1)
        assert float(np.abs(memory[0].numpy() - expected).max()) <= MEMORY_TOL


def test_reference_infer_parity(taco: Tacotron2, ref: dict[str, np.ndarray]) -> None:
    for i in indices(ref, "ids"):
        ids = _ids(ref, i)
        out = taco.infer(ids, torch.tensor([ids.shape[1]]), _masks(ref, i, taco.cfg.prenet_dim))
        frames = _frames_count(ref, i)
        assert int(out.counts[0]) == frames == out.mel.shape[2]
        mel = ref[f"mel_{i}"].reshape(80, -1)
        assert mel.shape[1] == frames
        assert float(np.abs(out.mel_pre[0].numpy() - mel).max()) <= MEL_TOL
        assert float(np.abs(out.mel[0].numpy() - ref[f"mel_postnet_{i}"].reshape(80, -1)).max()) <= MEL_TOL
        assert float(np.abs(out.gate[0].numpy() - ref[f"gate_{i}"].reshape(-1)).max()) <= MEL_TOL


@pytest.mark.parametrize("block", [1, 5, 16])
def test_decode_stage_matches_reference(taco: Tacotron2, waveglow: WaveGlow, ref: dict[str, np.ndarray],
                                        block: int) -> None:
    voice = Tacotron2Voice(taco, waveglow, block=block)
    stages = voice.stages()
    p = taco.cfg.prenet_dim
    for i in indices(ref, "ids"):
        ids = _ids(ref, i)
        lengths = torch.tensor([ids.shape[1]])
        masks = _masks(ref, i, p)
        expected = taco.infer(ids, lengths, masks)
        with torch.no_grad():
            (tokens,) = stages["encode"](ids, lengths, _knobs(1))
            frames, counts = decode_all(stages, tokens, torch.ones(1, ids.shape[1]), _knobs(1),
                                        _noise(masks, 400), block, 300, voice.spec.decoder.state_channels)
            mask = torch.ones(1, 1, frames.shape[2])
            z = stages["frames"](frames, mask, _knobs(1), torch.zeros(1, 256, frames.shape[2]))
        assert int(counts[0]) == int(expected.counts[0]) == _frames_count(ref, i)
        assert float((frames - expected.mel_pre).abs().max()) <= MEL_TOL
        assert float((z[:, :80] - expected.mel).abs().max()) <= MEL_TOL
        assert float(z[:, 80:].abs().max()) == 0.0


def _batch(ref: dict[str, np.ndarray], p: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """All fixture cases as one padded batch: ids, lengths, decode noise, per-row masks."""
    rows = indices(ref, "ids")
    lengths = torch.tensor([ref[f"ids_{i}"].size for i in rows])
    ids = torch.zeros(len(rows), int(lengths.max()), dtype=torch.long)
    masks = [_masks(ref, i, p) for i in rows]
    noise = torch.cat([_noise(m, 400) for m in masks])
    for r, i in enumerate(rows):
        ids[r, : lengths[r]] = _ids(ref, i)[0]
    return ids, lengths, noise, masks


def test_batch_equals_single(taco: Tacotron2, waveglow: WaveGlow, ref: dict[str, np.ndarray]) -> None:
    """Rows of very different lengths in one padded batch give their single-row results in every stage (the
    denoiser on)."""
    voice = Tacotron2Voice(taco, waveglow, block=8, denoise=0.1)
    stages, spec = voice.stages(), voice.spec
    ids, lengths, noise, masks = _batch(ref, taco.cfg.prenet_dim)
    b = ids.shape[0]
    assert int(lengths.max()) >= 4 * int(lengths.min())
    id_mask = (torch.arange(ids.shape[1])[None] < lengths[:, None]).float()
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        (tokens,) = stages["encode"](ids, lengths, _knobs(b))
        frames, counts = decode_all(stages, tokens, id_mask, _knobs(b), noise, 8, 300, spec.decoder.state_channels)
        t_y = frames.shape[2]
        fmask = (torch.arange(t_y)[None] < counts[:, None]).float()[:, None]
        fnoise = torch.randn(b, 256, t_y, generator=g) * fmask
        z = stages["frames"](frames, fmask, _knobs(b), fnoise)
        audio = stages["vocode"](z, counts)
        assert int(counts.max()) > int(counts.min())
        for r in range(b):
            n, c = int(lengths[r]), int(counts[r])
            (tok1,) = stages["encode"](ids[r : r + 1, :n], lengths[r : r + 1], _knobs(1))
            assert float((tok1[0] - tokens[r, :, :n]).abs().max()) <= MEMORY_TOL
            assert float(tokens[r, :, n:].abs().sum()) == 0.0
            f1, c1 = decode_all(stages, tok1, torch.ones(1, n), _knobs(1), noise[r : r + 1], 8, 300,
                                spec.decoder.state_channels)
            assert int(c1[0]) == c == int(taco.infer(ids[r : r + 1, :n], lengths[r : r + 1], masks[r]).counts[0])
            assert float((f1[0] - frames[r, :, :c]).abs().max()) <= MEL_TOL
            assert float(frames[r, :, c:].abs().sum()) == 0.0
            z1 = stages["frames"](f1, torch.ones(1, 1, c), _knobs(1), fnoise[r : r + 1, :, :c])
            assert float((z1[0] - z[r, :, :c]).abs().max()) <= MEL_TOL
            a1 = stages["vocode"](z1, None)
            assert snr_db(a1[0].numpy(), audio[r, : c * 256].numpy()) >= SNR_MIN_DB


def test_dle_batch_parity(taco: Tacotron2, waveglow: WaveGlow, ref: dict[str, np.ndarray]) -> None:
    """DLE's own padded batch, for its rows without id padding: the reference loop and the decode stage stop
    where DLE did (count = DLE's mel_lengths + 1) with its mel. (DLE's padded rows are not its batch-1 result:
    its encoder convolutions read the pad symbol's embedding past each row's end, and its postnet the frames a
    row decodes after it stopped; sonorant gives every row its batch-1 result, tested against DLE's batch-1
    runs above. So the postnet's last `postnet_reach` frames are compared only for a row that ran to the end.)"""
    assert "batch_ids" in ref, "the committed DLE fixture lacks its batched reference (tools/dle_fixtures.py)"
    ids, lengths = torch.from_numpy(ref["batch_ids"]).long(), torch.from_numpy(ref["batch_input_lengths"]).long()
    masks = torch.from_numpy(ref["batch_masks"]).float().permute(1, 0, 2, 3)  # [b, steps, 2, p]
    expected_counts = torch.from_numpy(ref["batch_mel_lengths"]).long() + 1
    steps = masks.shape[1]
    full = [r for r in range(ids.shape[0]) if int(lengths[r]) == ids.shape[1]]
    assert full
    out = taco.infer(ids, lengths, masks)
    p, reach = taco.cfg.prenet_dim, taco.cfg.postnet_reach
    stages = Tacotron2Voice(taco, waveglow, block=16).stages()
    b = ids.shape[0]
    noise = torch.ones(b, 2 * p, 400)
    noise[:, :, :steps] = masks.reshape(b, steps, 2 * p).transpose(1, 2) * 2 - 1
    id_mask = (torch.arange(ids.shape[1])[None] < lengths[:, None]).float()
    with torch.no_grad():
        (tokens,) = stages["encode"](ids, lengths, _knobs(b))
        frames, counts = decode_all(stages, tokens, id_mask, _knobs(b), noise, 16, 300, taco.cfg.state_channels)
    assert torch.equal(counts, out.counts)
    assert float((frames - out.mel_pre[:, :, : frames.shape[2]]).abs().max()) <= MEL_TOL
    for r in full:
        c = int(expected_counts[r])
        assert int(out.counts[r]) == c
        upto = c if c == steps else c - reach
        diff = np.abs(out.mel[r, :, :upto].numpy() - ref["batch_mel_postnet"][r, :, :upto])
        assert float(diff.max()) <= MEL_TOL, r


def test_step_limit_is_an_error(taco: Tacotron2, waveglow: WaveGlow, ref: dict[str, np.ndarray]) -> None:
    stuck = Tacotron2(taco.cfg)
    stuck.load_state_dict(taco.state_dict())
    stuck.eval()
    with torch.no_grad():
        stuck.decoder.gate_layer.bias.fill_(-1e4)  # the gate never fires
    i = indices(ref, "ids")[0]
    ids = _ids(ref, i)
    lengths = torch.tensor([ids.shape[1]])
    with pytest.raises(DecodeLimitError):
        stuck.infer(ids, lengths, max_steps=20)
    voice = Tacotron2Voice(stuck, waveglow, block=4, max_steps=20)
    stages = voice.stages()
    with torch.no_grad():
        (tokens,) = stages["encode"](ids, lengths, _knobs(1))
        with pytest.raises(DecodeLimitError):
            decode_all(stages, tokens, torch.ones(1, ids.shape[1]), _knobs(1), torch.ones(1, 2 * stuck.cfg.prenet_dim, 40),
                       4, 20, voice.spec.decoder.state_channels)


def test_gate_threshold_knob(taco: Tacotron2, waveglow: WaveGlow, ref: dict[str, np.ndarray]) -> None:
    """A lower threshold stops no later; the stage reads the knob column per row."""
    stages = Tacotron2Voice(taco, waveglow, block=4).stages()
    ids, lengths, noise, _ = _batch(ref, taco.cfg.prenet_dim)
    b = ids.shape[0]
    id_mask = (torch.arange(ids.shape[1])[None] < lengths[:, None]).float()
    with torch.no_grad():
        (tokens,) = stages["encode"](ids, lengths, _knobs(b))
        state_channels = taco.cfg.state_channels
        _, base = decode_all(stages, tokens, id_mask, _knobs(b, 0.5), noise, 4, 300, state_channels)
        _, low = decode_all(stages, tokens, id_mask, _knobs(b, 0.05), noise, 4, 300, state_channels)
    assert bool((low <= base).all()) and bool((low < base).any()), (low, base)
    for r in range(b):
        expected = taco.infer(ids[r : r + 1, : lengths[r]], lengths[r : r + 1], _masks(ref, indices(ref, "ids")[r],
                              taco.cfg.prenet_dim), gate_threshold=0.05)
        assert int(expected.counts[0]) == int(low[r])


def test_noise_packing_and_vocode(taco: Tacotron2, waveglow: WaveGlow) -> None:
    g = torch.Generator().manual_seed(9)
    noise = torch.randn(2, 256, 6, generator=g)
    z = unpack_noise(noise, 8)
    for c, j, t in [(0, 0, 0), (3, 31, 5), (7, 17, 2), (5, 4, 1)]:
        assert float(z[1, c, t * 32 + j]) == float(noise[1, c * 32 + j, t])
    stages = Tacotron2Voice(taco, waveglow).stages()
    mel = torch.randn(2, 80, 6, generator=g) - 3
    mask = torch.ones(2, 1, 6)
    with torch.no_grad():
        frames_z = stages["frames"](mel, mask, _knobs(2, sigma=0.7), noise)
        audio = stages["vocode"](frames_z, None)
        direct = waveglow.infer(taco.post(mel, mask), unpack_noise(noise * 0.7, 8))
    assert frames_z.shape == (2, 336, 6)
    assert float((audio - direct).abs().max()) == 0.0


def test_frames_reach(taco: Tacotron2, waveglow: WaveGlow) -> None:
    spec = Tacotron2Voice(taco, waveglow).spec
    reach = spec.frames_reach
    assert reach == taco.cfg.postnet_reach
    t, f0 = 4 * reach + 5, 2 * reach
    g = torch.Generator().manual_seed(11)
    mel = torch.randn(1, 80, t, generator=g)
    moved = mel.clone()
    moved[:, :, f0] += 1.0
    mask = torch.ones(1, 1, t)
    with torch.no_grad():
        diff = (taco.post(moved, mask) - taco.post(mel, mask)).abs().amax(1)[0]
    changed = torch.nonzero(diff > 0)[:, 0]
    assert int(changed.min()) >= f0 - reach and int(changed.max()) <= f0 + reach


def test_pairing_is_checked(taco: Tacotron2) -> None:
    other = WaveGlow(WaveGlowConfig(n_mel=40, n_flows=4, wn_layers=2, wn_channels=8))
    with pytest.raises(VoiceError, match="mel channels"):
        Tacotron2Voice(taco, other)


def _stage_cases(voice: Tacotron2Voice, b: int, t_x: int, t_y: int, seed: int) -> dict[str, tuple]:
    """Inputs of every stage for a batch of b rows (the last one shorter), with the exporter's names."""
    g = torch.Generator().manual_seed(seed)
    cfg = voice.tacotron2.cfg
    lengths = torch.tensor([t_x] * (b - 1) + [max(1, t_x // 2)])
    counts = torch.tensor([t_y] * (b - 1) + [max(1, t_y // 3)])
    id_mask = (torch.arange(t_x)[None] < lengths[:, None]).float()
    fmask = (torch.arange(t_y)[None] < counts[:, None]).float()[:, None]
    channels = cfg.encoder_dim + cfg.attention_dim
    return {
        "encode": ((torch.randint(1, cfg.n_symbols, (b, t_x), generator=g), lengths, _knobs(b)),
                   ["ids", "lengths", "knobs"], ["tokens"], {"ids": {0: "b", 1: "t_x"}, "lengths": {0: "b"}}),
        "decode": ((torch.randn(b, channels, t_x, generator=g) * id_mask[:, None], id_mask,
                    torch.randn(b, cfg.state_channels, generator=g) * 0.1, torch.zeros(b, 2, t_x), torch.ones(b),
                    torch.zeros(b, dtype=torch.long), _knobs(b), torch.randn(b, 2 * cfg.prenet_dim, 4, generator=g)),
                   ["tokens", "id_mask", "state", "attn", "live", "count", "knobs", "noise"],
                   ["state_out", "attn_out", "live_out", "count_out", "frames"],
                   {"tokens": {0: "b", 2: "t_x"}, "id_mask": {0: "b", 1: "t_x"}, "state": {0: "b"},
                    "attn": {0: "b", 2: "t_x"}, "live": {0: "b"}, "count": {0: "b"}, "knobs": {0: "b"},
                    "noise": {0: "b"}}),
        "frames": ((torch.randn(b, 80, t_y, generator=g) * fmask, fmask, _knobs(b),
                    torch.randn(b, 256, t_y, generator=g)), ["mel", "mask", "knobs", "noise"], ["z"],
                   {"mel": {0: "b", 2: "t_y"}, "mask": {0: "b", 2: "t_y"}, "knobs": {0: "b"},
                    "noise": {0: "b", 2: "t_y"}}),
        "vocode": ((torch.randn(b, 336, t_y, generator=g) * fmask, counts), ["z", "lengths"], ["audio"],
                   {"z": {0: "b", 2: "t_y"}, "lengths": {0: "b"}}),
    }


@pytest.mark.parametrize("names", [("encode", "decode", "frames"),
                                   pytest.param(("vocode",), marks=pytest.mark.slow)])
def test_stages_export_to_onnx(taco: Tacotron2, waveglow: WaveGlow, tmp_path, names: tuple[str, ...]) -> None:
    """Every stage exports (no data-dependent shapes or branches) and the graph, run at another batch size and
    length than it was traced at, gives the module's outputs."""
    ort = pytest.importorskip("onnxruntime")
    from sonorant.runtimes.onnx_export import export_onnx

    voice = Tacotron2Voice(taco, waveglow, block=4, denoise=0.1).eval()
    stages = voice.stages()
    traced, other = _stage_cases(voice, 2, 9, 12, 0), _stage_cases(voice, 3, 14, 20, 1)
    for name in names:
        args, inputs, outputs, dynamic = traced[name]
        path = export_onnx(stages[name], args, tmp_path / f"{name}.onnx", inputs, outputs, dynamic, opset=17)
        session = ort.InferenceSession(str(path))
        used = {i.name for i in session.get_inputs()}
        args = other[name][0]
        got = session.run(None, {n: a.numpy() for n, a in zip(inputs, args) if n in used})
        with torch.no_grad():
            want = stages[name](*args)
        want = want if isinstance(want, tuple) else (want,)
        for out, g, w in zip(outputs, got, want):
            assert g.shape == tuple(w.shape), (name, out)
            assert float(np.abs(g - w.numpy()).max()) <= 1e-4, (name, out)
        assert not taco.training and not waveglow.training  # the exporter left the shared modules in eval mode


def test_too_few_prenet_masks_is_a_clear_error(taco: Tacotron2) -> None:
    from sonorant.errors import ConfigError

    ids = torch.randint(1, 148, (1, 9))
    masks = torch.ones(1, 3, 2, taco.cfg.prenet_dim)
    with pytest.raises(ConfigError, match="prenet_masks covers 3 steps"):
        taco.infer(ids, torch.tensor([9]), prenet_masks=masks, gate_threshold=0.99)
