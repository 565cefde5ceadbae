"""Unit codec files: write / read round trip, loading through a voice's own loader, and clear `VoiceError`s
for every way a file or its voice can be wrong."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_voices import TinyVoice

from sonorant.errors import VoiceError
from sonorant.runtimes.cache import file_digest
from sonorant.voices.piper import load_piper_model
from sonorant.voices.units import UnitHeader, load_unit_codec, read_unit_codebook, save_unit_codebook

BINS, PER_UNIT = 16, 2


def _header(tiny: TinyVoice, **changes: object) -> UnitHeader:
    fields = dict(voice=str(tiny.onnx_path), voice_sha256=file_digest(tiny.onnx_path), sample_rate=16000, hop=256,
                  channels=tiny.cfg.inter_channels, frames_per_unit=PER_UNIT, bins=BINS,
                  latents={"knobs": {"noise_scale": 0.0}}, fit={"iterations": 3})
    fields.update(changes)
    return UnitHeader(**fields)  # type: ignore[arg-type]


def _centroids(channels: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((BINS, channels, PER_UNIT)).astype(np.float32)


def test_round_trip_and_decode_through_the_voice(tmp_path: Path, tiny_x_low_voice: TinyVoice) -> None:
    voice = tiny_x_low_voice
    path = tmp_path / "units.npz"
    centroids = _centroids(voice.cfg.inter_channels)
    header = _header(voice)
    save_unit_codebook(path, centroids, header)
    read, back = read_unit_codebook(path)
    assert back == header and np.array_equal(read, centroids)
    assert back.unit_rate == pytest.approx(16000 / 512)
    assert json.loads(header.to_json())["unit_rate"] == pytest.approx(31.25)

    codec = load_unit_codec(path)  # the voice named in the header
    assert not codec.training
    assert (codec.spec.bins, codec.spec.hop, codec.spec.channels, codec.spec.sample_rate) == (16, 512, 32, 16000)
    codes = torch.tensor([[[3, 0, 15, 7, 7, 1, 9]]])
    with torch.inference_mode():
        audio = codec.decode(codes)  # [1, 7 * 512]
        model = load_piper_model(voice.onnx_path)
        frames = torch.from_numpy(centroids)[codes[0, 0]].permute(1, 0, 2).reshape(1, -1, 14)  # [1, 32, 14]
        expected = model.dec(frames, None)
    assert audio.shape == (1, 7 * 512)
    assert float((audio - expected).abs().max()) < 1e-6 and float(audio.abs().max()) > 1e-4
    assert load_unit_codec(path, voice=voice.onnx_path).spec == codec.spec  # the same voice, named by the caller


def test_regulated_space_decodes_through_the_flows(tmp_path: Path, tiny_x_low_voice: TinyVoice) -> None:
    voice = tiny_x_low_voice
    path = tmp_path / "prior.npz"
    centroids = 0.5 * _centroids(32, seed=4)
    save_unit_codebook(path, centroids, _header(voice, space="regulated"))
    codec = load_unit_codec(path)
    assert codec.spec.name == "units-regulated-16x2" and codec.spec.lookahead == -(-(32 + 13) // 2)
    codes = torch.tensor([[[1, 5, 5, 9, 0, 15]]])
    with torch.inference_mode():
        audio = codec.decode(codes)
        model = load_piper_model(voice.onnx_path)
        means = torch.from_numpy(centroids)[codes[0, 0]].permute(1, 0, 2).reshape(1, 32, 12)  # [1, 32, 12]
        stats = torch.cat([means, torch.zeros_like(means)], dim=1)  # log-stds zero; noise off
        z = model.prior_flows(stats, torch.ones(1, 1, 12), torch.zeros(1), torch.zeros(1, 32, 12), None)
        expected = model.dec(z, None)
    assert float((audio - expected).abs().max()) < 1e-6 and float(audio.abs().max()) > 1e-4
    save_unit_codebook(path, _centroids(96), _header(voice, space="regulated", channels=96))  # > 2C: too wide
    with pytest.raises(VoiceError, match="frames stage of .* takes 64"):
        load_unit_codec(path)


def test_float16_centroids_load_as_float32(tmp_path: Path, tiny_x_low_voice: TinyVoice) -> None:
    path = tmp_path / "half.npz"
    centroids = _centroids(32).astype(np.float16)
    save_unit_codebook(path, centroids, _header(tiny_x_low_voice))
    read, _ = read_unit_codebook(path)
    assert read.dtype == np.float32 and np.array_equal(read, centroids.astype(np.float32))


def test_another_voice_is_refused(tmp_path: Path, tiny_x_low_voice: TinyVoice) -> None:
    path = tmp_path / "units.npz"
    save_unit_codebook(path, _centroids(32), _header(tiny_x_low_voice, voice_sha256="0" * 64))
    with pytest.raises(VoiceError, match="was fitted on the voice"):
        load_unit_codec(path)


def test_geometry_mismatches_are_refused(tmp_path: Path, tiny_x_low_voice: TinyVoice) -> None:
    voice = tiny_x_low_voice
    path = tmp_path / "wide.npz"
    save_unit_codebook(path, _centroids(48), _header(voice, channels=48))
    with pytest.raises(VoiceError, match="48 channels x 256 samples"):
        load_unit_codec(path)
    save_unit_codebook(path, _centroids(32), _header(voice, sample_rate=22050))
    with pytest.raises(VoiceError, match="22050 Hz"):
        load_unit_codec(path)


def test_multi_speaker_voice_is_refused(tmp_path: Path, tiny_x_low_voice: TinyVoice) -> None:
    """A voice whose card says it has three speakers (the tiny voice's file with such a config beside it)."""
    onnx = tmp_path / "multi.onnx"
    shutil.copyfile(tiny_x_low_voice.onnx_path, onnx)
    config = json.loads(tiny_x_low_voice.config_path.read_text())
    config.update(num_speakers=3, speaker_id_map={"a": 0, "b": 1, "c": 2})
    (tmp_path / "multi.onnx.json").write_text(json.dumps(config))
    path = tmp_path / "multi.npz"
    save_unit_codebook(path, _centroids(32), _header(tiny_x_low_voice, voice=str(onnx)))
    with pytest.raises(VoiceError, match="3 speakers"):
        load_unit_codec(path)


def test_unknown_voice_is_a_voice_error(tmp_path: Path, tiny_x_low_voice: TinyVoice) -> None:
    path = tmp_path / "units.npz"
    save_unit_codebook(path, _centroids(32), _header(tiny_x_low_voice, voice=str(tmp_path / "gone.onnx")))
    with pytest.raises(VoiceError, match="unknown voice"):
        load_unit_codec(path)


def _write_raw(path: Path, **arrays: np.ndarray) -> Path:
    with path.open("wb") as out:
        np.savez(out, **arrays)
    return path


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: d / "missing.npz", "unit codec not found"),
    (lambda d: (d / "text.npz").write_text("not a zip") and d / "text.npz", "not a readable unit codec"),
    (lambda d: _write_raw(d / "bare.npz", centroids=np.zeros((2, 4, 1), np.float32)), "needs the arrays"),
    (lambda d: _write_raw(d / "json.npz", centroids=np.zeros((2, 4, 1), np.float32), header=np.array("{oops")),
     "not JSON"),
    (lambda d: _write_raw(d / "format.npz", centroids=np.zeros((2, 4, 1), np.float32),
                          header=np.array(json.dumps({"format": "encodec"}))), "not a sonorant unit codec"),
    (lambda d: _write_raw(d / "version.npz", centroids=np.zeros((2, 4, 1), np.float32),
                          header=np.array(json.dumps({"format": "sonorant-units", "version": 99}))), "version 99"),
    (lambda d: _write_raw(d / "space.npz", centroids=np.zeros((2, 4, 1), np.float32), header=np.array(json.dumps(
        {"format": "sonorant-units", "version": 1, "voice": "joe", "voice_sha256": "", "sample_rate": 1, "hop": 1,
         "channels": 4, "frames_per_unit": 1, "bins": 2, "space": "mel"}))), "space must be one of"),
    (lambda d: _write_raw(d / "lacks.npz", centroids=np.zeros((2, 4, 1), np.float32),
                          header=np.array(json.dumps({"format": "sonorant-units", "version": 1}))), "lacks '"),
])
def test_bad_files_are_voice_errors(tmp_path: Path, make, message: str) -> None:  # noqa: ANN001
    with pytest.raises(VoiceError, match=message):
        read_unit_codebook(make(tmp_path))


def test_inconsistent_contents_are_voice_errors(tmp_path: Path, tiny_x_low_voice: TinyVoice) -> None:
    header = _header(tiny_x_low_voice)
    path = _write_raw(tmp_path / "shape.npz", centroids=np.zeros((BINS, 32, 3), np.float32),
                      header=np.array(header.to_json()))
    with pytest.raises(VoiceError, match=r"the header says \(16, 32, 2\)"):
        read_unit_codebook(path)
    bad = _centroids(32)
    bad[3, 4, 1] = np.nan
    path = _write_raw(tmp_path / "nan.npz", centroids=bad, header=np.array(header.to_json()))
    with pytest.raises(VoiceError, match="NaN"):
        read_unit_codebook(path)
    raw = json.loads(header.to_json()) | {"bins": 0}
    path = _write_raw(tmp_path / "zero.npz", centroids=np.zeros((0, 32, 2), np.float32),
                      header=np.array(json.dumps(raw)))
    with pytest.raises(VoiceError, match="bins must be a positive integer"):
        read_unit_codebook(path)
