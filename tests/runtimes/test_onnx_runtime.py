"""The ONNX Runtime runtime: stage graphs exported from our model match eager, cached by model key."""

from __future__ import annotations

import numpy as np
import pytest

import sonorant
from sonorant.engine import Engine, Utterance
from sonorant.runtimes import EagerRuntime, make_runtime
from sonorant.voices.piper import load_piper_model

pytest.importorskip("onnxruntime")

from sonorant.runtimes.onnx import OnnxRuntime, model_key  # noqa: E402


def _snr_db(ref: np.ndarray, test: np.ndarray) -> float:
    err = float(np.sum((ref - test) ** 2))
    return float("inf") if err == 0 else 10 * np.log10(float(np.sum(ref**2)) / err)


def test_onnx_runtime_matches_eager_on_joe(joe: sonorant.Voice, tmp_path_factory: pytest.TempPathFactory) -> None:
    runtime = OnnxRuntime(joe.model, cache_dir=tmp_path_factory.mktemp("onnx-cache"))
    texts = ["The quick brown fox jumps over the lazy dog.", "Is this thing on?", "Numbers like seven hundred work."]
    cfg = joe.resolve(sonorant.SynthesisConfig(seed=4))
    utts = [Utterance(tuple(joe.phoneme_ids(t)[0]), 4 + i, cfg.length_scale, cfg.noise_scale, cfg.noise_w)
            for i, t in enumerate(texts)]
    eager = Engine(joe.model, EagerRuntime(joe.model)).synthesize(utts, max_batch=3)
    onnx = Engine(joe.model, runtime).synthesize(utts, max_batch=3)
    snrs = [_snr_db(a, b) for a, b in zip(eager, onnx)]
    assert all(len(a) == len(b) for a, b in zip(eager, onnx))
    assert min(snrs) >= 60.0, snrs


def test_onnx_runtime_multi_speaker_and_cache_key(tiny_multi_speaker_voice, tmp_path) -> None:  # noqa: ANN001
    model = load_piper_model(tiny_multi_speaker_voice.onnx_path)
    runtime = OnnxRuntime(model, cache_dir=tmp_path)
    assert len(list(tmp_path.iterdir())) == 1 and (tmp_path / model_key(model) / "vocode.onnx").is_file()
    eager = Engine(model, EagerRuntime(model))
    onnx = Engine(model, runtime)
    for speaker in (0, 1, 2):
        utt = Utterance((1, 0, 5, 0, 9, 0, 12, 0, 2), 7, 1.0, 0.667, 0.8, speaker)
        (a,), (b,) = eager.synthesize([utt]), onnx.synthesize([utt])
        assert len(a) == len(b) and _snr_db(a, b) >= 60.0
    OnnxRuntime(model, cache_dir=tmp_path)  # reuses the cached graphs
    assert len(list(tmp_path.iterdir())) == 1
    with pytest.raises(sonorant.ConfigError):
        make_runtime("no-such-runtime", model)
