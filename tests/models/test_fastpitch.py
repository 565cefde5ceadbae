"""FastPitch: parity with NeMo on its own fixtures, padded batches equal to single utterances, the pace and
pitch knobs, and the family contract (spec + three stages)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from nemo_cases import FASTPITCH, FASTPITCH_MULTI, HIFIGAN_V1, HIFIGAN_V3, MEL_TOL, case

from sonorant.errors import VoiceError
from sonorant.models.base import STAGES, FamilySpec
from sonorant.models.common import GeneratorConfig
from sonorant.models.common.regulate import length_regulate
from sonorant.models.fastpitch import FastPitch, FastPitchConfig, FastPitchVoice, FFTConfig, PredictorConfig
from sonorant.models.hifigan import HifiGan, HifiGanConfig, MelConfig
from sonorant.voices.nemo import load_fastpitch, load_hifigan

SINGLE = ["fastpitch_tiny__single_pace0.8", "fastpitch_tiny__single_pace1.0", "fastpitch_tiny__single_pace1.3",
          "fastpitch_tiny_multi__single_spk0_pace1.0", "fastpitch_tiny_multi__single_spk1_pace1.0",
          "fastpitch_tiny_multi__single_spk2_pace1.0"]
BATCHES = ["fastpitch_tiny__batch3_pace1.0", "fastpitch_tiny__batch3_pace1.3", "fastpitch_tiny__batch2short_pace1.3",
           "fastpitch_tiny_multi__batch3_spk201_pace1.0", "fastpitch_tiny_multi__batch3_spk201_pace1.3"]


@pytest.fixture(scope="module")
def nemo_models() -> dict[str, FastPitch]:
    return {"fastpitch_tiny": load_fastpitch(FASTPITCH), "fastpitch_tiny_multi": load_fastpitch(FASTPITCH_MULTI)}


def _knobs(b: int, pace: float = 1.0, shift: float = 0.0, scale: float = 1.0) -> torch.Tensor:
    return torch.tensor([[pace, shift, scale]] * b, dtype=torch.float32)


def _run(fp: FastPitch, ids: torch.Tensor, lengths: torch.Tensor, knobs: torch.Tensor, sid=None, pitch=None,
         width: int | None = None):
    """Both stages: (prediction, mel [b, n_mels, width or max frames])."""
    with torch.inference_mode():
        p = fp.predict(ids, lengths, knobs, sid, pitch)
        width = width or int(p.frames.max())
        mask = (torch.arange(width)[None] < p.frames[:, None]).float().unsqueeze(1)
        return p, fp.frames(p.tokens, p.durations, mask, knobs, p.g)


def _row(ref: dict, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    n = int(ref["ids_lens"][i])
    sid = torch.from_numpy(ref["speaker"][i : i + 1]) if "speaker" in ref else None
    return torch.from_numpy(ref["ids"][i : i + 1, :n]), torch.tensor([n]), sid


def _assert_row_matches(p, mel: torch.Tensor, ref: dict, i: int, row: int = 0) -> None:
    n, frames = int(ref["ids_lens"][i]), int(ref["mel_lens"][i])
    assert int(p.frames[row]) == frames
    np.testing.assert_array_equal(p.durations[row, :n].numpy(), ref["durs"][i, :n].astype(np.float32))
    np.testing.assert_allclose(p.log_durations[row, :n].numpy(), ref["log_durs_pred"][i, :n], atol=1e-5)
    assert float(np.abs(mel[row, :, :frames].numpy() - ref["mel"][i, :, :frames]).max()) <= MEL_TOL


@pytest.mark.parametrize("name", SINGLE)
def test_single_utterances_match_nemo(nemo_models, name: str) -> None:
    fp = nemo_models[name.split("__")[0]]
    ref = case(name)
    ids, lengths, sid = _row(ref, 0)
    p, mel = _run(fp, ids, lengths, _knobs(1, float(ref["pace"])), sid)
    _assert_row_matches(p, mel, ref, 0)
    np.testing.assert_allclose(p.pitch[0].numpy(), ref["pitch_pred"][0], atol=1e-5)
    assert mel.shape == ref["mel"].shape


@pytest.mark.parametrize("name", BATCHES)
def test_batches_match_nemo_where_nemo_is_exact(nemo_models, name: str) -> None:
    """A row NeMo ran unpadded (longest in ids and in frames) equals NeMo's; every row equals sonorant's own
    single-utterance result. NeMo's padded rows are not compared: its convolutions read padding (see the
    next test)."""
    fp = nemo_models[name.split("__")[0]]
    ref = case(name)
    ids, lengths = torch.from_numpy(ref["ids"]), torch.from_numpy(ref["ids_lens"])
    sid = torch.from_numpy(ref["speaker"]) if "speaker" in ref else None
    knobs = _knobs(len(lengths), float(ref["pace"]))
    p, mel = _run(fp, ids, lengths, knobs, sid, width=int(ref["mel_lens"].max()) + 7)
    unpadded = [i for i in range(len(lengths))
                if ref["ids_lens"][i] == ids.shape[1] and ref["mel_lens"][i] == ref["mel"].shape[2]]
    for i in unpadded:
        _assert_row_matches(p, mel, ref, i, i)
    assert unpadded or name.endswith("batch2short_pace1.3")  # there the longest text is not the longest mel
    for i in range(len(lengths)):
        ids1, len1, sid1 = _row(ref, i)
        p1, mel1 = _run(fp, ids1, len1, knobs[i : i + 1], sid1)
        n, f = int(len1), int(p1.frames)
        assert int(p.frames[i]) == f
        assert torch.equal(p.durations[i, :n], p1.durations[0])
        assert float((mel[i, :, :f] - mel1[0]).abs().max()) <= MEL_TOL
        assert torch.allclose(mel[i, :, f:], fp.proj.bias[:, None].expand(-1, mel.shape[2] - f))  # NeMo's padding


def test_padded_rows_equal_nemo_single_runs_where_nemo_batches_leak(nemo_models) -> None:
    """NeMo's FFT and predictor convolutions read padded positions (their hidden layers are not masked),
    so its batched short rows drift from its own single runs; sonorant's batched rows do not."""
    batch, single = case("fastpitch_tiny_multi__batch3_spk201_pace1.0"), case("fastpitch_tiny_multi__single_spk2_pace1.0")
    n, frames = int(single["ids_lens"][0]), int(single["mel_lens"][0])
    assert np.array_equal(batch["ids"][0, :n], single["ids"][0]) and batch["speaker"][0] == single["speaker"][0]
    assert np.abs(batch["mel"][0, :, :frames] - single["mel"][0]).max() > 0.01  # NeMo: batch != single
    fp = nemo_models["fastpitch_tiny_multi"]
    p, mel = _run(fp, torch.from_numpy(batch["ids"]), torch.from_numpy(batch["ids_lens"]), _knobs(3),
                  torch.from_numpy(batch["speaker"]))
    _assert_row_matches(p, mel, single, 0, 0)


@pytest.mark.parametrize("name, factor", [("fastpitch_tiny__pitch_x1.25_batch2", 1.25),
                                          ("fastpitch_tiny_multi__pitch_x0.8_spk1", 0.8)])
def test_pitch_knobs_equal_nemo_given_the_transformed_contour(nemo_models, name: str, factor: float) -> None:
    """NeMo's forward(pitch=P) with P = the predicted contour in Hz times `factor`, renormalised, equals
    pitch_scale=factor and pitch_shift=(factor - 1) * pitch_mean Hz (and equals passing P itself)."""
    fp = nemo_models[name.split("__")[0]]
    ref = case(name)
    i = int(np.argmax(ref["ids_lens"]))  # the unpadded row
    assert ref["mel_lens"][i] == ref["mel"].shape[2]
    ids, lengths, sid = _row(ref, i)
    pitch_in = torch.from_numpy(ref["pitch_in"][i : i + 1, : int(lengths)])
    p, mel = _run(fp, ids, lengths, _knobs(1), sid, pitch=pitch_in)
    _assert_row_matches(p, mel, ref, i)
    knobs = _knobs(1, 1.0, (factor - 1) * fp.cfg.pitch_mean, factor)
    p, mel = _run(fp, ids, lengths, knobs, sid)
    _assert_row_matches(p, mel, ref, i)
    np.testing.assert_allclose(p.pitch[0].numpy(), ref["pitch_in"][i, : int(lengths)], atol=1e-5)


def test_frames_stage_matches_nemos_export_path_with_per_token_pace(nemo_models) -> None:
    """NeMo's `infer` (pitch offset added to the prediction, pace per token) through `frames`."""
    fp = nemo_models["fastpitch_tiny"]
    ref = case("fastpitch_tiny__infer_shift0.5_pacetok")
    i = int(np.argmax(ref["ids_lens"]))
    assert ref["mel_lens"][i] == ref["mel"].shape[2]  # unpadded in both axes
    ids, lengths, _ = _row(ref, i)
    n = int(lengths)
    with torch.inference_mode():
        pred = fp.predict(ids, lengths, _knobs(1))
        shifted = pred.pitch + torch.from_numpy(ref["pitch_shift"][i : i + 1, :n])
        p = fp.predict(ids, lengths, _knobs(1), pitch=shifted)
        dur = torch.clamp(torch.exp(p.log_durations) - 1, fp.cfg.min_token_duration, fp.cfg.max_token_duration)
        durations = torch.floor(dur / torch.from_numpy(ref["pace_tokens"][i : i + 1, :n]) + 0.5)
        frames = int(durations.sum())
        mel = fp.frames(p.tokens, durations, torch.ones(1, 1, frames))
    assert frames == int(ref["mel_lens"][i])
    np.testing.assert_array_equal(durations[0].numpy(), ref["durs"][i, :n].astype(np.float32))
    assert float(np.abs(mel[0].numpy() - ref["mel"][i, :, :frames]).max()) <= MEL_TOL


# ------------------------------------------------------------------------------------ model level, no NeMo

RICH = FastPitchConfig(
    n_vocab=30, padding_idx=28, d_model=16,
    encoder=FFTConfig(n_layer=2, n_head=2, d_head=8, d_inner=24, kernel_size=3, pre_lnorm=True),
    decoder=FFTConfig(n_layer=2, n_head=1, d_head=8, d_inner=24, kernel_size=5),
    duration_predictor=PredictorConfig(12, 3, 2), pitch_predictor=PredictorConfig(12, 3, 2),
    energy_predictor=PredictorConfig(12, 3, 2), n_speakers=3,
    speaker_sites=("encoder", "duration", "pitch", "energy", "decoder"),
    min_token_duration=0.0, max_token_duration=12.0, pitch_mean=180.0, pitch_std=40.0,
)


@pytest.fixture(scope="module")
def rich() -> FastPitch:
    torch.manual_seed(0)
    fp = FastPitch(RICH).eval()
    with torch.no_grad():
        for prm in fp.parameters():
            prm.add_(torch.randn_like(prm) * 0.1)
        fp.duration_predictor.fc.bias.add_(1.5)  # a few frames per token
    return fp


def test_padded_batch_equals_single_utterances(rich: FastPitch) -> None:
    gen = torch.Generator().manual_seed(1)
    lengths = [9, 4, 13]
    rows = [torch.randint(0, 28, (n,), generator=gen) for n in lengths]
    rows[0][3] = RICH.padding_idx  # a pad id inside an utterance is masked, as NeMo masks it
    ids = torch.full((3, 16), 5, dtype=torch.long)  # junk (not the pad id) past each length
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
    knobs = torch.tensor([[1.0, 0.0, 1.0], [0.7, 20.0, 1.5], [1.6, -30.0, 0.3]])
    sid = torch.tensor([2, 0, 1])
    p, mel = _run(rich, ids, torch.tensor(lengths), knobs, sid, width=200)
    for i, r in enumerate(rows):
        p1, mel1 = _run(rich, r[None], torch.tensor([len(r)]), knobs[i : i + 1], sid[i : i + 1])
        f = int(p1.frames)
        assert int(p.frames[i]) == f
        assert torch.equal(p.durations[i, : len(r)], p1.durations[0]) and not p.durations[i, len(r) :].any()
        assert float((p.tokens[i, :, : len(r)] - p1.tokens[0]).abs().max()) <= 1e-5
        assert not p.tokens[i, :, len(r) :].any()
        assert float((mel[i, :, :f] - mel1[0]).abs().max()) <= MEL_TOL
    assert p.durations[0, 3] == 0  # the pad id inside row 0


def test_knobs(rich: FastPitch) -> None:
    ids, lengths, sid = torch.randint(0, 28, (1, 11)), torch.tensor([11]), torch.tensor([1])
    with torch.inference_mode():
        base = rich.predict(ids, lengths, _knobs(1), sid)
        assert torch.equal(rich.predict(ids, lengths, _knobs(1), sid, pitch=base.pitch).tokens, base.tokens)
        shifted = rich.predict(ids, lengths, _knobs(1, 1.0, 40.0, 1.0), sid)  # +40 Hz = +1 std
        assert torch.allclose(shifted.pitch, base.pitch + 1.0, atol=1e-6)
        flat = rich.predict(ids, lengths, _knobs(1, 1.0, 0.0, 0.0), sid)  # monotone at the mean
        assert not flat.pitch.any()
        fast = rich.predict(ids, lengths, _knobs(1, 2.0), sid)
        dur = torch.clamp(torch.exp(base.log_durations) - 1, 0, RICH.max_token_duration)
        assert torch.equal(fast.durations, torch.floor(dur / 2 + 0.5))
        assert torch.equal(fast.log_durations, base.log_durations)  # pace changes rounding, not predictions
    no_std = FastPitch(FastPitchConfig(n_vocab=10, d_model=8, encoder=FFTConfig(1, 1, 4, 8),
                                       decoder=FFTConfig(1, 1, 4, 8))).eval()
    ids = torch.randint(0, 9, (1, 5))
    with torch.inference_mode():  # no pitch_std: a shift in Hz cannot be expressed, and has no effect
        a = no_std.predict(ids, torch.tensor([5]), _knobs(1, 1.0, 50.0))
        b = no_std.predict(ids, torch.tensor([5]), _knobs(1))
    assert torch.equal(a.pitch, b.pitch)


def test_at_least_one_frame(rich: FastPitch) -> None:
    fp = FastPitch(RICH).eval()
    fp.load_state_dict(rich.state_dict())
    with torch.no_grad():
        fp.duration_predictor.fc.bias.fill_(-50.0)  # every duration clamps to 0
    p, mel = _run(fp, torch.randint(0, 28, (2, 6)), torch.tensor([6, 3]), _knobs(2), torch.tensor([0, 1]))
    assert not p.durations.any() and p.frames.tolist() == [1, 1] and mel.shape[2] == 1


def test_config_round_trips() -> None:
    assert FastPitchConfig.from_dict(json.loads(json.dumps(RICH.to_dict()))) == RICH
    with pytest.raises(ValueError, match="unknown FastPitchConfig"):
        FastPitchConfig.from_dict({"n_vocab": 3, "bogus": 1})
    with pytest.raises(ValueError, match="multi-speaker"):
        FastPitchConfig(n_vocab=3, speaker_sites=("encoder",))


# ------------------------------------------------------------------------------------ the family contract


def _vocoder(mel: MelConfig) -> HifiGan:
    torch.manual_seed(2)
    gen = GeneratorConfig(in_channels=mel.n_mels, upsample_initial_channel=16)
    return HifiGan(HifiGanConfig(mel=mel, generator=gen)).eval()


def test_spec_and_stages(rich: FastPitch) -> None:
    voice = FastPitchVoice(rich, _vocoder(RICH.mel))
    spec = voice.spec
    assert FamilySpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert (spec.family, spec.sample_rate, spec.hop, spec.n_vocab) == ("fastpitch", 22050, 256, 30)
    assert (spec.token_channels, spec.channels, spec.cond_channels, spec.n_speakers) == (16, 80, 16, 3)
    assert [k.name for k in spec.knobs] == ["pace", "pitch_shift", "pitch_scale"]
    assert spec.knob("pace").rate == "pace" and spec.knob_defaults() == (1.0, 0.0, 1.0)
    assert spec.encode_noise is None and spec.frames_noise is None and spec.frames_reach is None
    assert spec.vocoder_reach == 16
    stages = voice.stages()
    assert set(stages) == set(STAGES) - {"decode"} | {"frames_post"}  # decode: autoregressive families only
    ids, lengths, sid = torch.randint(0, 28, (2, 7)), torch.tensor([7, 4]), torch.tensor([0, 2])
    knobs = torch.tensor([spec.knob_defaults()] * 2)
    with torch.inference_mode():
        tokens, durations, frames, g = stages["encode"](ids, lengths, knobs, None, sid)
        assert tokens.shape == (2, 16, 7) and durations.shape == (2, 7) and frames.dtype == torch.int64
        assert g.shape == (2, 16, 1)
        width = int(frames.max()) + 3
        mask = (torch.arange(width)[None] < frames[:, None]).float().unsqueeze(1)
        z = stages["frames"](tokens, durations, mask, knobs, None, g)
        assert z.shape == (2, 80, width) and not z[1, :, int(frames[1]) :].any()  # zero past each length
        audio = stages["vocode"](z, frames, g)
        assert audio.shape == (2, width * 256)
        again = stages["encode"](ids, lengths, knobs, None, sid)  # no noise: deterministic
        assert torch.equal(again[0], tokens)
        regulated = length_regulate(tokens, durations, width)  # frames = FramesStage(frames_post)
        assert torch.equal(stages["frames_post"](regulated, mask, knobs, None, g), z)


def test_stage_graphs_export_to_onnx_with_dynamic_shapes(tmp_path) -> None:
    """Every stage traces to one ONNX graph whose shapes follow the inputs (no data-dependent shape was
    baked in): other lengths and batch sizes than the export's give the eager samples."""
    ort = pytest.importorskip("onnxruntime")
    from sonorant.runtimes.onnx_export import export_stages

    voice = FastPitchVoice(load_fastpitch(FASTPITCH_MULTI), load_hifigan(HIFIGAN_V3))
    paths = export_stages(voice, tmp_path)
    sessions = {k: ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for k, p in paths.items()}

    def run(graph: str, **feeds) -> list[np.ndarray]:  # unused inputs (frames' knobs) are not in the graph
        names = {i.name for i in sessions[graph].get_inputs()}
        return sessions[graph].run(None, {k: np.asarray(v) for k, v in feeds.items() if k in names})

    ids = torch.tensor([[3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13], [14, 15, 16, 0, 0, 0, 0, 0, 0, 0, 0],
                        [20, 21, 22, 23, 24, 25, 0, 0, 0, 0, 0]])
    lengths, sid = torch.tensor([11, 3, 6]), torch.tensor([0, 2, 1])
    knobs = torch.tensor([[1.0, 0.0, 1.0], [0.8, 20.0, 1.2], [1.3, -10.0, 0.7]])
    stages = voice.stages()
    with torch.inference_mode():
        tokens, durations, frames = stages["encode"](ids, lengths, knobs, None, sid)
        width = int(frames.max()) + 4
        mask = (torch.arange(width)[None] < frames[:, None]).float().unsqueeze(1)
        z = stages["frames"](tokens, durations, mask, knobs)
        audio = stages["vocode"](z, frames)
    o_tokens, o_durations, o_frames = run("encode", ids=ids, lengths=lengths, knobs=knobs, sid=sid)
    assert np.array_equal(o_frames, frames.numpy()) and np.array_equal(o_durations, durations.numpy())
    (o_z,) = run("frames", tokens=o_tokens, durations=o_durations, mask=mask, knobs=knobs)
    assert np.abs(o_z - z.numpy()).max() <= 1e-4
    (o_audio,) = run("vocode", z=o_z, lengths=o_frames)
    assert o_audio.shape == audio.shape and np.abs(o_audio - audio.numpy()).max() <= 1e-4


def test_single_speaker_encode_returns_no_g() -> None:
    fp, voc = load_fastpitch(FASTPITCH), load_hifigan(HIFIGAN_V1)
    voice = FastPitchVoice(fp, voc)
    assert voice.spec.cond_channels == 0 and voice.spec.knob("pitch_shift").high == 400.0
    out = voice.stages()["encode"](torch.tensor([[3, 4, 5]]), torch.tensor([3]), _knobs(1))
    assert len(out) == 3


def test_pairing_checks_the_mel(rich: FastPitch) -> None:
    other = MelConfig(sample_rate=44100, n_fft=2048, win_length=2048, hop=256, fmax=8000.0)
    with pytest.raises(VoiceError, match=r"sample_rate: 22050 vs 44100.*n_fft: 1024 vs 2048"):
        FastPitchVoice(rich, _vocoder(other))
