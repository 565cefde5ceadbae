"""The committed NeMo fixtures (tools/nemo_fixtures.py) are intact and self-consistent.

These read the files with tarfile + torch + numpy only (no NeMo), the way a loader has to: they guard
the fixtures themselves, not sonorant's models (the parity tests that use them live with the models).
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

FIXTURES = Path(__file__).parent.parent / "fixtures" / "nemo"
MODELS = ["fastpitch_tiny.nemo", "fastpitch_tiny_multi.nemo", "hifigan_tiny_v1.nemo", "hifigan_tiny_v3.nemo"]


def _read_nemo(name: str) -> tuple[dict[str, bytes], dict[str, torch.Tensor]]:
    with tarfile.open(FIXTURES / name, "r:*") as tar:  # plain tar (current NeMo) or gzip (NeMo < 1.7)
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    weights = next(v for k, v in files.items() if k.endswith("model_weights.ckpt"))
    return files, torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)


def _keys_txt() -> dict[str, dict[str, list[int]]]:
    out: dict[str, dict[str, list[int]]] = {}
    current = None
    for line in (FIXTURES / "keys.txt").read_text().splitlines():
        if line.startswith("## "):
            current = out.setdefault(line[3:], {})
        elif line and not line.startswith("#"):
            key, shape, _dtype = line.split("  ")
            current[key] = json.loads(shape)
    return out


@pytest.mark.parametrize("name", MODELS)
def test_nemo_archives_match_keys_txt(name: str) -> None:
    files, sd = _read_nemo(name)
    assert any(k.endswith("model_config.yaml") for k in files)
    config = next(v for k, v in files.items() if k.endswith("model_config.yaml")).decode()
    assert re.search(r"^target: nemo\.collections\.tts\.models\.", config, re.MULTILINE)
    for artifact in re.findall(r"nemo:([0-9a-f]{32}_\S+)", config):  # tokenizer dictionaries
        assert any(k.endswith(artifact) for k in files), artifact
    assert {k: list(v.shape) for k, v in sd.items()} == _keys_txt()[name]


def test_fastpitch_cases_are_self_consistent() -> None:
    proj_bias = {
        m: _read_nemo(m + ".nemo")[1]["fastpitch.proj.bias"] for m in ("fastpitch_tiny", "fastpitch_tiny_multi")
    }
    cases = sorted(FIXTURES.glob("fastpitch_*.npz"))
    assert len(cases) >= 10
    for path in cases:
        z = np.load(path)
        assert (z["durs"].sum(1) == z["mel_lens"]).all(), path.name
        assert z["mel"].shape[2] == z["mel_lens"].max(), path.name
        bias = proj_bias[path.name.split("__")[0]].numpy()
        for b, n in enumerate(z["mel_lens"]):  # frames past mel_lens hold proj.bias, not zeros
            np.testing.assert_allclose(z["mel"][b, :, n:], np.broadcast_to(bias[:, None], (80, z["mel"].shape[2] - n)))
        for b, n in enumerate(z["ids_lens"]):
            assert (z["durs"][b, n:] == 0).all() and (z["pitch_pred"][b, n:] == 0).all(), path.name


def test_vocoder_cases_are_self_consistent() -> None:
    for path in sorted(FIXTURES.glob("hifigan_*.npz")):
        z = np.load(path)
        assert z["audio"].shape == (z["mel"].shape[0], 256 * z["mel"].shape[2]), path.name
        assert np.abs(z["audio"]).max() <= 1.0  # tanh output


@pytest.mark.parametrize("name", ["tokenizer_arpabet.json", "tokenizer_ipa.json"])
def test_tokenizer_references(name: str) -> None:
    ref = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    tokens = ref["tokens"]
    assert len(tokens) == ref["n_tokens"] and tokens[ref["pad"]] == "<pad>" and tokens[ref["oov"]] == "<oov>"
    _, sd = _read_nemo(ref["model_file"])
    assert sd["fastpitch.encoder.word_emb.weight"].shape[0] == len(tokens)
    assert not sd["fastpitch.encoder.word_emb.weight"][ref["pad"]].any()  # padding_idx row
    for case in ref["cases"]:
        if "error" in case:
            continue
        ids = case["ids"]
        assert ids[0] == ids[-1] == ref["space"]  # pad_with_space
        assert [tokens[i] for i in ids] == case["symbols"]
        assert ref["pad"] not in ids and ref["oov"] not in ids
