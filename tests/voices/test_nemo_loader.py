"""Reading `.nemo` archives: containers, artifacts, configs cross-checked with weights, weight norm in both
stored forms, and clear errors for what sonorant cannot run; end to end, text ids -> audio equals NeMo's."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from nemo_cases import (
    FASTPITCH,
    FASTPITCH_MULTI,
    FIXTURES,
    HIFIGAN_V1,
    HIFIGAN_V3,
    MEL_TOL,
    SNR_MIN_DB,
    case,
    snr_db,
)

from sonorant.errors import VoiceError
from sonorant.voices.nemo import (
    load_fastpitch,
    load_hifigan,
    load_nemo_model,
    read_nemo,
)


def _rewrite(src: Path, dst: Path, config=None, state=None, drop: tuple[str, ...] = (), compress: bool = False) -> Path:
    """A copy of the .nemo `src` with its config and/or state dict replaced by functions of themselves."""
    archive = read_nemo(src)
    cfg = archive.config if config is None else config(dict(archive.config))
    sd = archive.state if state is None else state(dict(archive.state))
    members = {"model_config.yaml": yaml.safe_dump(cfg).encode()}
    buf = io.BytesIO()
    torch.save(sd, buf)
    members["model_weights.ckpt"] = buf.getvalue()
    members.update({k: v for k, v in archive.artifacts.items()})
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in members.items():
            if name in drop:
                continue
            info = tarfile.TarInfo("./" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    dst.write_bytes(gzip.compress(out.getvalue()) if compress else out.getvalue())
    return dst


def test_reads_plain_and_gzip_archives_with_their_artifacts() -> None:
    plain, packed = read_nemo(FASTPITCH), read_nemo(FASTPITCH_MULTI)  # a plain tar and a gzipped one
    assert plain.target.endswith("FastPitchModel") and packed.target.endswith("FastPitchModel")
    g2p = plain.config["text_tokenizer"]["g2p"]
    assert g2p["phoneme_dict"].startswith("nemo:")
    assert b"\nAPPLE  AE1 P AH0 L\n" in plain.artifact(g2p["phoneme_dict"])  # by reference,
    uuid_name = g2p["heteronyms"].removeprefix("nemo:")
    assert plain.artifact(uuid_name) == plain.artifact(uuid_name.split("_", 1)[1])  # stored name, bare name
    with tarfile.open(FASTPITCH) as tar:
        names = {n.removeprefix("./") for n in tar.getnames()}
    assert set(plain.artifacts) == names - {"", ".", "model_config.yaml", "model_weights.ckpt"}
    assert len(packed.artifacts) == 2
    with pytest.raises(VoiceError, match="no artifact"):
        plain.artifact("nemo:0123_missing.txt")
    assert read_nemo(HIFIGAN_V1).artifacts == {}


def test_every_stored_key_is_used_or_known_training_only() -> None:
    """keys.txt (every key NeMo stored): what the loaders do not load is the aligner, the preprocessor,
    the positional-embedding frequencies (recomputed) and the unused pitch statistics buffers."""
    fp = load_fastpitch(FASTPITCH_MULTI)
    used = {"fastpitch." + k for k in fp.state_dict()}
    stored = set(read_nemo(FASTPITCH_MULTI).state)
    unused = {k for k in stored - used}
    assert all(k.startswith(("aligner.", "fastpitch.aligner.", "preprocessor.")) or k.endswith(
        ("pos_emb.inv_freq", "pitch_mean", "pitch_std")) for k in unused), sorted(unused)
    listed = (FIXTURES / "keys.txt").read_text()
    assert all(f"{k}  " in listed for k in stored)


def test_end_to_end_ids_to_audio_matches_nemo() -> None:
    """FastPitch + HiFi-GAN from their .nemo files through the three stages: NeMo's frame count and mel,
    and the audio NeMo's vocoder makes of NeMo's mel (the vocoder alone is checked against NeMo's
    `convert_spectrogram_to_audio` in tests/models/test_hifigan.py)."""
    voice = load_nemo_model(FASTPITCH, HIFIGAN_V1)
    ref = case("fastpitch_tiny__single_pace1.0")
    stages = voice.stages()
    knobs = torch.tensor([[1.0, 0.0, 1.0]])
    with torch.inference_mode():
        tokens, durations, frames = stages["encode"](torch.from_numpy(ref["ids"]), torch.from_numpy(ref["ids_lens"]),
                                                     knobs)
        t = int(frames)
        mel = stages["frames"](tokens, durations, torch.ones(1, 1, t), knobs)
        audio = stages["vocode"](mel, None)[0].numpy()
        from_nemo_mel = stages["vocode"](torch.from_numpy(ref["mel"]), None)[0].numpy()
    assert t == int(ref["mel_lens"][0]) and audio.shape == (t * 256,)
    assert float(np.abs(mel.numpy() - ref["mel"]).max()) <= MEL_TOL
    assert snr_db(from_nemo_mel, audio) >= SNR_MIN_DB


def test_multi_speaker_through_the_loader() -> None:
    voice = load_nemo_model(FASTPITCH_MULTI, HIFIGAN_V3)
    assert voice.spec.n_speakers == 3 and voice.spec.cond_channels == 0
    assert voice.fastpitch.cfg.speaker_sites == ("encoder", "duration", "pitch")
    ref = case("fastpitch_tiny_multi__single_spk1_pace1.0")
    with torch.inference_mode():
        tokens, durations, frames = voice.stages()["encode"](
            torch.from_numpy(ref["ids"]), torch.from_numpy(ref["ids_lens"]), torch.tensor([[1.0, 0.0, 1.0]]), None,
            torch.from_numpy(ref["speaker"]))
        mel = voice.stages()["frames"](tokens, durations, torch.ones(1, 1, int(frames)), None)
    assert int(frames) == int(ref["mel_lens"][0])
    assert float(np.abs(mel.numpy() - ref["mel"]).max()) <= MEL_TOL


def test_not_a_tar(tmp_path: Path) -> None:
    bad = tmp_path / "voice.nemo"
    bad.write_bytes(b"\x00\x01 definitely not a tar archive" * 40)
    with pytest.raises(VoiceError, match="not a NeMo .nemo archive"):
        read_nemo(bad)
    with pytest.raises(VoiceError, match="does not exist"):
        read_nemo(tmp_path / "missing.nemo")


def test_tar_without_a_config(tmp_path: Path) -> None:
    path = _rewrite(HIFIGAN_V1, tmp_path / "x.nemo", drop=("model_config.yaml",))
    with pytest.raises(VoiceError, match=r"no model_config.yaml \(it holds model_weights.ckpt\)"):
        read_nemo(path)


def test_another_model_class(tmp_path: Path) -> None:
    def tacotron(cfg: dict) -> dict:
        return cfg | {"target": "nemo.collections.tts.models.tacotron2.Tacotron2Model"}

    path = _rewrite(HIFIGAN_V1, tmp_path / "taco.nemo", config=tacotron)
    for load in (load_fastpitch, load_hifigan):
        with pytest.raises(VoiceError, match=r"Tacotron2Model checkpoint .*FastPitchModel .*HifiGanModel"):
            load(path)
    with pytest.raises(VoiceError, match="FastPitchModel checkpoint .*not a HifiGanModel"):
        load_hifigan(FASTPITCH)
    with pytest.raises(VoiceError, match="HifiGanModel checkpoint .*not a FastPitchModel"):
        load_fastpitch(HIFIGAN_V1)


def test_mismatched_mel_configs(tmp_path: Path) -> None:
    def at_44k(cfg: dict) -> dict:
        cfg["preprocessor"] = dict(cfg["preprocessor"], sample_rate=44100, highfreq=None)
        return cfg

    path = _rewrite(HIFIGAN_V1, tmp_path / "hifigan_44k.nemo", config=at_44k)
    with pytest.raises(VoiceError, match=r"different mel spectrograms .*sample_rate: 22050 vs 44100; fmax: 8000.0 vs "
                                         r"22050.0"):
        load_nemo_model(FASTPITCH, path)


def test_missing_and_misshaped_weights(tmp_path: Path) -> None:
    def drop(sd: dict) -> dict:
        return {k: v for k, v in sd.items() if not k.startswith("fastpitch.pitch_emb.")}

    with pytest.raises(VoiceError, match="not a complete FastPitch: missing pitch_emb.bias, pitch_emb.weight"):
        load_fastpitch(_rewrite(FASTPITCH, tmp_path / "a.nemo", state=drop))

    def wide(sd: dict) -> dict:
        return sd | {"fastpitch.proj.bias": torch.zeros(81)}

    with pytest.raises(VoiceError, match=r"weight proj.bias has shape \(81,\), expected \(80,\)"):
        load_fastpitch(_rewrite(FASTPITCH, tmp_path / "b.nemo", state=wide))

    def extra(sd: dict) -> dict:
        return sd | {"fastpitch.adapter_layer.linear.weight": torch.zeros(2, 2)}

    with pytest.raises(VoiceError, match="no place for .*adapter_layer"):
        load_fastpitch(_rewrite(FASTPITCH, tmp_path / "c.nemo", state=extra))

    def fewer_layers(cfg: dict) -> dict:
        cfg["input_fft"] = dict(cfg["input_fft"], n_layer=1)
        return cfg

    with pytest.raises(VoiceError, match="input_fft has n_layer 1 in its config but 2 in its weights"):
        load_fastpitch(_rewrite(FASTPITCH, tmp_path / "d.nemo", config=fewer_layers))


def test_speaker_encoder_models_are_refused(tmp_path: Path) -> None:
    def gst(cfg: dict) -> dict:
        return cfg | {"speaker_encoder": {"_target_": "nemo.collections.tts.modules.submodules.SpeakerEncoder"}}

    with pytest.raises(VoiceError, match="speaker encoder"):
        load_fastpitch(_rewrite(FASTPITCH, tmp_path / "gst.nemo", config=gst))

    def layernorm(cfg: dict) -> dict:
        cfg["output_fft"] = dict(cfg["output_fft"], condition_types=["add", "layernorm"])
        return cfg

    with pytest.raises(VoiceError, match=r"conditioned by \['layernorm'\]"):
        load_fastpitch(_rewrite(FASTPITCH_MULTI, tmp_path / "ln.nemo", config=layernorm))


def test_weight_norm_forms_and_old_flat_resblock_keys_load_the_same(tmp_path: Path) -> None:
    """NeMo stores weight_g / weight_v and nested `resblocks.{stage}.{j}` keys; torch's parametrization
    (`parametrizations.weight.original0/1`) and NeMo < 1.x's flat `resblocks.{n}` keys load identically."""
    mel = torch.from_numpy(case("hifigan_tiny_v1__random_mel")["mel"])
    with torch.inference_mode():
        ref = load_hifigan(HIFIGAN_V1)(mel)

    def reform(sd: dict) -> dict:
        out = {}
        n_kernels = 3
        for k, v in sd.items():
            parts = k.split(".")
            if parts[:2] == ["generator", "resblocks"]:
                parts = parts[:2] + [str(int(parts[2]) * n_kernels + int(parts[3]))] + parts[4:]
            k = ".".join(parts)
            k = k.replace(".weight_g", ".parametrizations.weight.original0").replace(
                ".weight_v", ".parametrizations.weight.original1")
            out[k] = v
        return out

    stored = read_nemo(HIFIGAN_V1).state
    assert any(k.endswith(".weight_g") for k in stored) and "generator.resblocks.1.2.convs1.0.weight_v" in stored
    path = _rewrite(HIFIGAN_V1, tmp_path / "reformed.nemo", state=reform)
    with torch.inference_mode():
        assert torch.equal(load_hifigan(path)(mel), ref)


def test_discriminators_are_dropped(tmp_path: Path) -> None:
    def with_discriminators(sd: dict) -> dict:
        return sd | {"mpd.discriminators.0.convs.0.weight_g": torch.ones(32, 1, 1, 1),
                     "mpd.discriminators.0.convs.0.weight_v": torch.ones(32, 1, 5, 1),
                     "msd.discriminators.0.convs.0.bias": torch.ones(16)}

    vocoder = load_hifigan(_rewrite(HIFIGAN_V3, tmp_path / "d.nemo", state=with_discriminators, compress=True))
    assert vocoder.cfg.generator.resblock == "2" and vocoder.cfg.mel.log_guard_type == "clamp"
