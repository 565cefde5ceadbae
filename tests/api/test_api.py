"""The public API: results, streaming, and clear errors for bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

import sonorant
from sonorant import ConfigError, SynthesisConfig, TextError, VoiceError


def test_synthesize_returns_float_audio_at_the_voice_rate(joe: sonorant.Voice) -> None:
    audio = joe.synthesize("Hello from sonorant.", SynthesisConfig(seed=0))
    assert isinstance(audio, sonorant.Audio)
    assert audio.sample_rate == 22050 and audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert 0.5 < audio.duration < 4.0
    assert float(np.abs(audio.samples).max()) <= 1.0 and float(np.abs(audio.samples).max()) > 0.05


def test_phoneme_ids_layout(joe: sonorant.Voice) -> None:
    ids = joe.phoneme_ids("Hello world. How are you?")
    assert len(ids) == 2
    for sentence in ids:
        assert sentence[:2] == [1, 0] and sentence[-2:] == [0, 2]
        assert all(x == 0 for x in sentence[1:-1:2]), "a pad after BOS and after every phoneme"


def test_defaults_come_from_the_voice(joe: sonorant.Voice) -> None:
    r = joe.resolve(None)
    assert (r.knob("noise_scale"), r.knob("length_scale"), r.knob("noise_w")) == (0.667, 1.0, 0.8)
    assert joe.resolve(SynthesisConfig(knobs={"noise_scale": 0.1})).knob("noise_scale") == 0.1


def test_stream_concatenates_to_synthesize(joe: sonorant.Voice) -> None:
    text = "First sentence here. A second one follows! And a third?"
    cfg = SynthesisConfig(seed=42, sentence_silence=0.1)
    chunks = list(joe.stream(text, cfg))
    indices = [c.sentence_index for c in chunks]
    assert sorted(set(indices)) == [0, 1, 2] and indices == sorted(indices)
    assert [c.is_last for c in chunks] == [False] * (len(chunks) - 1) + [True]
    whole = joe.synthesize(text, cfg).samples
    streamed = np.concatenate([c.samples for c in chunks])
    assert len(streamed) == len(whole) and float(np.max(np.abs(streamed - whole))) <= 1e-4


def test_length_scale_slows_speech(joe: sonorant.Voice) -> None:
    base = joe.synthesize("Slow and steady wins the race.", SynthesisConfig(seed=3, knobs={"noise_w": 0.0}))
    slow = joe.synthesize("Slow and steady wins the race.", SynthesisConfig(seed=3, knobs={"noise_w": 0.0, "length_scale": 1.5}))
    assert slow.duration > base.duration * 1.3


@pytest.mark.parametrize("text", ["", "   ", "\n\t", None, 42, b"bytes"])
def test_empty_or_non_text_is_a_text_error(joe: sonorant.Voice, text: object) -> None:
    with pytest.raises(TextError):
        joe.synthesize(text)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "cfg",
    [
        SynthesisConfig(knobs={"noise_scale": -0.1}), SynthesisConfig(knobs={"noise_w": math.nan}),
        SynthesisConfig(knobs={"length_scale": 0}), SynthesisConfig(knobs={"length_scale": math.inf}),
        SynthesisConfig(knobs={"length_scale": "fast"}),  # type: ignore[dict-item]
        SynthesisConfig(knobs={"pace": 1.0}), SynthesisConfig(speed=0), SynthesisConfig(knobs=[1.0]),  # type: ignore[arg-type]
        SynthesisConfig(speaker=3), SynthesisConfig(seed=-1), SynthesisConfig(sentence_silence=-1.0),
    ],
)
def test_bad_settings_are_config_errors(joe: sonorant.Voice, cfg: SynthesisConfig) -> None:
    with pytest.raises(ConfigError) as info:
        joe.synthesize("Hello.", cfg)
    assert any(w in str(info.value) for w in ("must", "speaker", "knob"))


def test_unknown_and_missing_voices_are_voice_errors(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(VoiceError, match="unknown voice"):
        sonorant.load_voice("no-such-voice")
    with pytest.raises(VoiceError):
        sonorant.load_voice(str(tmp_path / "missing.onnx"))
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x00not an onnx file" * 10)
    (tmp_path / "corrupt.onnx.json").write_text("{}")
    with pytest.raises(VoiceError):
        sonorant.load_voice(str(corrupt))
    lonely = tmp_path / "lonely.onnx"
    lonely.write_bytes(b"x")
    with pytest.raises(VoiceError, match="onnx.json"):
        sonorant.load_voice(str(lonely))


def test_errors_are_one_family() -> None:
    for exc in (ConfigError, TextError, VoiceError, sonorant.PhonemizerError):
        assert issubclass(exc, sonorant.SonorantError)
