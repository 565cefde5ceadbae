"""`sonorant export`, run through the CLI's `main`: Piper voices that piper-tts loads and that sound like
sonorant, and stage graphs (dynamic or one per bucket) that ONNX Runtime runs to eager's audio."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tiny_voices import TinyVoice, eager_audio, sample_ids, snr_db

import sonorant
from sonorant.__main__ import main
from sonorant.engine import BucketConfig, Engine, Utterance
from sonorant.runtimes import EagerRuntime
from sonorant.voices.piper import load_piper_model

ort = pytest.importorskip("onnxruntime")


def _piper_audio(piper, path: Path, ids: list[int], sid: int | None = None) -> np.ndarray:  # noqa: ANN001
    voice = piper.PiperVoice.load(path, config_path=path.with_name(path.name + ".json"))
    syn = piper.SynthesisConfig(speaker_id=sid, noise_scale=0.0, noise_w_scale=0.0, length_scale=1.0)
    return voice.phoneme_ids_to_audio(ids, syn)


def test_piper_export_of_a_tiny_voice_loads_in_piper(tiny_multi_speaker_voice: TinyVoice, tmp_path) -> None:  # noqa: ANN001
    piper = pytest.importorskip("piper")
    out = tmp_path / "exported"
    out.mkdir()
    voice = str(tiny_multi_speaker_voice.onnx_path)
    assert main(["export", "--format", "piper", "--voice", voice, "-o", str(out)]) == 0
    path = out / "en_US-tiny_multi.onnx"  # a directory gets <voice name>.onnx
    config = json.loads(path.with_name(path.name + ".json").read_text())
    source = json.loads(tiny_multi_speaker_voice.config_path.read_text())
    for field in ("phoneme_id_map", "speaker_id_map", "audio", "espeak", "inference", "dataset"):
        assert config[field] == source[field], field
    model = load_piper_model(path)  # sonorant reads its own export back
    snrs = []
    for n, seed in ((5, 1), (40, 2)):
        ids = sample_ids(n, seed)
        for sid in range(3):
            ref = eager_audio(tiny_multi_speaker_voice.model, ids, sid)
            out_audio = _piper_audio(piper, path, ids, sid)
            assert out_audio.shape == ref.shape
            snrs.append(snr_db(ref, out_audio))
            assert snr_db(ref, eager_audio(model, ids, sid)) >= 60.0
    print(f"piper-tts on the exported tiny voice: min SNR {min(snrs):.1f} dB")
    assert min(snrs) >= 50.0


@pytest.mark.slow
def test_piper_export_of_joe_matches_sonorant(joe: sonorant.Voice, tmp_path) -> None:  # noqa: ANN001
    piper = pytest.importorskip("piper")
    path = tmp_path / "joe-from-sonorant.onnx"
    assert main(["export", "--format", "piper", "-o", str(path)]) == 0  # the default voice
    voice = piper.PiperVoice.load(path, config_path=path.with_name(path.name + ".json"))
    snrs = []
    for text in ("The quick brown fox jumps over the lazy dog.", "Is this thing on?",
                 "Sonorant writes Piper voices now, and piper speaks them."):
        for phonemes in voice.phonemize(text):
            ids = voice.phonemes_to_ids(phonemes)
            ref = eager_audio(joe.model, ids, onednn=True)
            out = _piper_audio(piper, path, ids)
            assert out.shape == ref.shape
            snrs.append(snr_db(ref, out))
    print(f"joe exported by sonorant, run by piper-tts: min SNR {min(snrs):.1f} dB")
    assert min(snrs) >= 50.0


def _run_stages(sessions: dict[str, object], ids: np.ndarray, lengths: np.ndarray, sid: np.ndarray | None,
                frames_width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """encode -> frames -> vocode with noise off; returns (audio [b, T], frames [b])."""
    b, t_x = ids.shape
    knobs = np.tile(np.array([[1.0, 0.0, 0.0]], np.float32), (b, 1))  # length_scale, noise_scale, noise_w
    feeds = {"ids": ids, "lengths": lengths, "knobs": knobs, "noise": np.zeros((b, 2, t_x), np.float32)}
    if sid is not None:
        feeds["sid"] = sid
    enc = dict(zip(["tokens", "durations", "frames", "g"], sessions["encode"].run(None, feeds)))
    width = frames_width or int(enc["frames"].max())
    c = enc["tokens"].shape[1] // 2
    mask = (np.arange(width)[None, None, :] < enc["frames"][:, None, None]).astype(np.float32)
    lat = {"tokens": enc["tokens"], "durations": enc["durations"], "mask": mask, "knobs": knobs,
           "noise": np.zeros((b, c, width), np.float32)}
    if sid is not None:
        lat["g"] = enc["g"]
    (z,) = sessions["frames"].run(None, lat)
    voc = {"z": z, "lengths": enc["frames"]} | ({"g": enc["g"]} if sid is not None else {})
    (audio,) = sessions["vocode"].run(None, voc)
    return audio, enc["frames"]


def _sessions(directory: Path, files: dict[str, str]) -> dict[str, object]:
    return {stage: ort.InferenceSession(str(directory / name), providers=["CPUExecutionProvider"])
            for stage, name in files.items()}


def test_stage_export_with_dynamic_axes(tiny_multi_speaker_voice: TinyVoice, tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "stages"
    assert main(["export", "--voice", str(tiny_multi_speaker_voice.onnx_path), "-o", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "sonorant-stages-1" and not manifest["static"] and manifest["spec"]["n_speakers"] == 3
    files = {g["stage"]: g["file"] for g in manifest["graphs"]}
    assert set(files) == {"encode", "frames", "vocode", "vocode_full"}
    encode = next(g for g in manifest["graphs"] if g["stage"] == "encode")
    assert encode["inputs"]["ids"] == ["batch", "ids"]
    model = load_piper_model(tiny_multi_speaker_voice.onnx_path)
    sessions = _sessions(out, {k: files[k] for k in ("encode", "frames", "vocode")})
    utts = [Utterance(tuple(sample_ids(n, n)), n, (1.0, 0.0, 0.0), n % 3) for n in (4, 11, 23)]
    ref = Engine(EagerRuntime(model)).synthesize(utts)
    width = max(len(u.ids) for u in utts)
    ids = np.zeros((3, width), np.int64)
    for row, u in enumerate(utts):
        ids[row, : len(u.ids)] = u.ids
    lengths, sids = np.array([len(u.ids) for u in utts]), np.array([u.speaker_id for u in utts])
    audio, frames = _run_stages(sessions, ids, lengths, sids)
    for row, r in enumerate(ref):
        got = audio[row, : int(frames[row]) * model.hop_length]
        assert got.shape == r.shape and snr_db(r, got) >= 60.0


def test_static_stage_export_has_one_graph_per_bucket(tiny_x_low_voice: TinyVoice, tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "static"
    args = ["export", "--format", "stages", "--static", "--voice", str(tiny_x_low_voice.onnx_path), "-o", str(out),
            "--id-edges", "32", "--frame-edges", "64,128", "--batch-sizes", "1,2", "--window-sizes", "40"]
    assert main(args) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    graphs = manifest["graphs"]
    assert manifest["static"] and len(graphs) == 2 * (1 + 2 + 2) + 1
    buckets = {(g["stage"], g["bucket"]["batch"], g["bucket"].get("ids", g["bucket"].get("frames"))) for g in graphs}
    assert buckets == {
        ("encode", 1, 32), ("encode", 2, 32), ("frames", 1, 64), ("frames", 1, 128), ("frames", 2, 64),
        ("frames", 2, 128), ("vocode", 1, 64), ("vocode", 1, 128), ("vocode", 2, 64), ("vocode", 2, 128),
        ("vocode", 1, 40)}
    for g in graphs:
        for name, dims in g["inputs"].items():
            dynamic = [d for d in dims if isinstance(d, str)]
            # Only the frames stage's id axis stays dynamic (the path matrix is the one place it appears).
            ids_axis = g["stage"] == "frames" and name in ("tokens", "durations")
            assert dynamic == (["ids"] if ids_axis else []), (g["file"], name)
        assert (out / g["file"]).is_file()
    model = load_piper_model(tiny_x_low_voice.onnx_path)
    utts = [Utterance(tuple(sample_ids(n, 40 + n)), 40 + n, (1.0, 0.0, 0.0)) for n in (6, 13)]
    ref = Engine(EagerRuntime(model)).synthesize(utts)
    assert max(len(r) for r in ref) // model.hop_length <= 128
    ids = np.zeros((2, 32), np.int64)
    for row, u in enumerate(utts):
        ids[row, : len(u.ids)] = u.ids
    sessions = _sessions(out, {"encode": "encode_b2_x32.onnx", "frames": "frames_b2_y128.onnx",
                               "vocode": "vocode_b2_y128.onnx"})
    audio, frames = _run_stages(sessions, ids, np.array([len(u.ids) for u in utts]), None, frames_width=128)
    assert audio.shape == (2, 128 * model.hop_length)
    for row, r in enumerate(ref):
        got = audio[row, : int(frames[row]) * model.hop_length]
        assert got.shape == r.shape and snr_db(r, got) >= 60.0


@pytest.mark.parametrize("args, message", [
    (["--format", "piper", "-o", "voice.txt"], "onnx"),
    (["--format", "piper", "--static", "-o", "v.onnx"], "stages only"),
    (["--static", "--id-edges", "a,b", "-o", "dir"], "id-edges"),
    (["--static", "--batch-sizes", "0", "-o", "dir"], "batch-sizes"),
])
def test_export_errors_are_one_line(tiny_x_low_voice: TinyVoice, tmp_path, capsys, args, message) -> None:  # noqa: ANN001
    paths = ("voice.txt", "v.onnx", "dir")
    argv = ["export", "--voice", str(tiny_x_low_voice.onnx_path)] + [str(tmp_path / a) if a in paths else a for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("sonorant: error:") and message in err
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_stage_export_refuses_a_file_as_directory(tiny_x_low_voice: TinyVoice, tmp_path, capsys) -> None:  # noqa: ANN001
    target = tmp_path / "taken"
    target.write_text("a file")
    assert main(["export", "--voice", str(tiny_x_low_voice.onnx_path), "-o", str(target)]) == 2
    assert "is a file" in capsys.readouterr().err and target.read_text() == "a file"


def test_export_stages_api_writes_the_runtime_graphs(tiny_x_low_voice: TinyVoice, tmp_path) -> None:  # noqa: ANN001
    from sonorant.export import export_stage_graphs

    manifest = export_stage_graphs(tiny_x_low_voice.model, tmp_path, static=True,
                                   buckets=BucketConfig(id_edges=(16,), frame_edges=(32,)), window_sizes=())
    assert [g["file"] for g in manifest["graphs"]] == ["encode_b1_x16.onnx", "frames_b1_y32.onnx", "vocode_b1_y32.onnx"]
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest
    assert manifest["spec"]["hop"] == tiny_x_low_voice.cfg.hop_length


def test_exports_never_overwrite_unasked(tiny_x_low_voice: TinyVoice, tmp_path, capsys) -> None:  # noqa: ANN001
    voice = str(tiny_x_low_voice.onnx_path)
    onnx_path = tmp_path / "v.onnx"
    onnx_path.write_bytes(b"keep me")
    assert main(["export", "--format", "piper", "--voice", voice, "-o", str(onnx_path)]) == 2
    assert "already exists" in capsys.readouterr().err and onnx_path.read_bytes() == b"keep me"
    lone_json = tmp_path / "w.onnx.json"
    lone_json.write_text("{}", encoding="utf-8")
    assert main(["export", "--format", "piper", "--voice", voice, "-o", str(tmp_path / "w.onnx")]) == 2
    assert lone_json.read_text(encoding="utf-8") == "{}" and not (tmp_path / "w.onnx").exists()
    assert main(["export", "--format", "piper", "--voice", voice, "-o", str(onnx_path), "--force"]) == 0
    assert onnx_path.stat().st_size > 1000 and (tmp_path / "v.onnx.json").is_file()

    stages = tmp_path / "stages"
    stages.mkdir()
    (stages / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["export", "--voice", voice, "-o", str(stages)]) == 2
    assert "not empty" in capsys.readouterr().err and (stages / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert main(["export", "--voice", voice, "-o", str(stages), "--force"]) == 0
    assert (stages / "manifest.json").is_file() and not (stages / "notes.txt").exists()
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_an_interrupted_stage_export_leaves_nothing_behind(tiny_x_low_voice: TinyVoice, tmp_path, monkeypatch,
                                                           capsys) -> None:  # noqa: ANN001
    import sonorant.runtimes.onnx_export as onnx_export

    real = onnx_export.export_onnx
    calls = []

    def fail_on_the_third(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        if len(calls) == 3:
            raise sonorant.SonorantError("disk full (simulated)")
        return real(*args, **kwargs)

    monkeypatch.setattr(onnx_export, "export_onnx", fail_on_the_third)
    target = tmp_path / "stages"
    assert main(["export", "--voice", str(tiny_x_low_voice.onnx_path), "-o", str(target)]) == 2
    assert "disk full" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no target, no partial graphs, no staging folder


def test_export_keeps_every_submodules_mode(tmp_path: Path) -> None:
    """The exporter restores only its top module's flag, recursively: under a fresh (training) wrapper a
    shared model's eval submodules would come back in training mode, dropout on (it changed an eager
    Tacotron2 voice's audio after the ONNX runtime exported the same model)."""
    import torch
    from torch import nn

    from sonorant.runtimes.onnx_export import export_onnx

    inner = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5)).eval()
    wrapper = nn.Sequential(inner)  # a new module: training mode
    export_onnx(wrapper, (torch.zeros(2, 3),), tmp_path / "w.onnx", ["x"], ["y"], {})
    assert wrapper.training and not any(m.training for m in inner.modules())
