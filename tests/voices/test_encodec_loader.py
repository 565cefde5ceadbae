"""Reading Encodec checkpoints: Meta's .th and transformers' folders (new and legacy weight-norm names, bin and
safetensors) give the same codec; probe needs no torch; bad files are VoiceErrors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from encodec_cases import FIXTURES, HF, META, N_Q

from sonorant.errors import ConfigError, VoiceError
from sonorant.models.encodec import EncodecConfig
from sonorant.voices.encodec import load_codec, probe
from sonorant.voices.safetensors_file import read_safetensors

TINY = EncodecConfig(dimension=8, n_filters=2, n_q=N_Q)
"""What the fixtures were built with (tools/encodec_fixtures.py)."""


@pytest.fixture(scope="module")
def meta_state() -> dict[str, torch.Tensor]:
    return load_codec(META).state_dict()


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """Largest |a - b| over every weight (inf if the keys or shapes differ)."""
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        return float("inf")
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def test_both_formats_give_the_same_codec(meta_state: dict[str, torch.Tensor]) -> None:
    meta, hf = load_codec(META), load_codec(HF)
    assert meta.cfg == hf.cfg == TINY  # Meta's sizes all read off the weights; transformers' from config.json
    assert _same(meta_state, hf.state_dict()) == 0.0
    assert load_codec(HF / "config.json").cfg == TINY
    assert not meta.training
    assert meta.spec.codebooks == 2 and load_codec(META, bandwidth=3.0).spec.codebooks == 4
    assert load_codec(META, codebooks=3).spec.codebooks == 3


def test_legacy_names_bin_and_bare_files(tmp_path: Path, meta_state: dict[str, torch.Tensor]) -> None:
    state = read_safetensors(HF / "model.safetensors")
    assert any(k.endswith(".parametrizations.weight.original0") for k in state)
    legacy = {k.replace(".parametrizations.weight.original0", ".weight_g")
              .replace(".parametrizations.weight.original1", ".weight_v"): v for k, v in state.items()}
    folder = tmp_path / "legacy"
    folder.mkdir()
    shutil.copy(HF / "config.json", folder / "config.json")
    torch.save(legacy, folder / "pytorch_model.bin")  # the hub's older files: weight_g / weight_v, a .bin
    assert probe(folder)
    assert _same(meta_state, load_codec(folder).state_dict()) <= 1e-7
    # a bare weights file of either naming, no config: sizes inferred as for Meta's
    bare = tmp_path / "weights.safetensors"
    shutil.copy(HF / "model.safetensors", bare)
    assert probe(bare)
    assert _same(meta_state, load_codec(bare).state_dict()) == 0.0
    torch.save({"state_dict": legacy}, tmp_path / "wrapped.pt")
    assert _same(meta_state, load_codec(tmp_path / "wrapped.pt").state_dict()) <= 1e-7


def test_probe_needs_no_torch() -> None:
    code = (
        "import sys\n"
        "from sonorant.voices.encodec import probe\n"
        f"fx = {str(FIXTURES)!r}\n"
        "hits = [probe(fx + '/encodec_tiny.th'), probe(fx + '/encodec_tiny_hf'),\n"
        "        probe(fx + '/encodec_tiny_hf/config.json'), probe(fx + '/encodec_tiny_hf/model.safetensors')]\n"
        "misses = [probe(fx + '/README.md'), probe(fx + '/missing.th'), probe(fx + '/../tacotron2/waveglow_tiny.pt'),\n"
        "          probe(fx)]\n"
        "assert hits == [True] * 4 and misses == [False] * 4, (hits, misses)\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": str(Path(__file__).parents[2] / "src")})


def test_bad_files_are_voice_errors(tmp_path: Path) -> None:
    text = tmp_path / "notes.th"
    text.write_text("not a checkpoint")
    truncated = tmp_path / "cut.th"
    truncated.write_bytes(META.read_bytes()[:20_000])
    cut_st = tmp_path / "cut.safetensors"
    cut_st.write_bytes((HF / "model.safetensors").read_bytes()[:100_000])
    other = tmp_path / "other.pt"
    torch.save({"embedding.weight": torch.zeros(3, 4)}, other)
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    cases = [
        (tmp_path / "missing.th", "not found"),
        (text, "not a checkpoint sonorant can read"),
        (truncated, "not a checkpoint sonorant can read"),
        (cut_st, "not a safetensors file sonorant can read"),
        (other, "not an Encodec checkpoint"),
        (empty_dir, "no config.json"),
    ]
    for path, match in cases:
        with pytest.raises(VoiceError, match=match):
            load_codec(path)


def _folder(tmp_path: Path, name: str, config: dict | None = None,
            edit: dict[str, torch.Tensor | None] | None = None) -> Path:
    """A copy of the transformers fixture with its config updated by `config` and weights edited by `edit`
    (None: drop the key)."""
    folder = tmp_path / name
    folder.mkdir()
    cfg = json.loads((HF / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, **(config or {})}))
    state = read_safetensors(HF / "model.safetensors")
    for key, value in (edit or {}).items():
        if value is None:
            del state[key]
        else:
            state[key] = value
    torch.save(state, folder / "pytorch_model.bin")
    return folder


def test_wrong_models_and_weights_are_voice_errors(tmp_path: Path) -> None:
    lstm = "decoder.layers.1.lstm.weight_hh_l0"
    book = "quantizer.layers.0.codebook.embed"
    cases = [
        (_folder(tmp_path, "gpt2", {"model_type": "gpt2"}), "not an Encodec"),
        (_folder(tmp_path, "48k", {"use_causal_conv": False, "norm_type": "time_group_norm"}), "causal mono 24 kHz"),
        (_folder(tmp_path, "stereo", {"audio_channels": 2}), "mono only"),
        (_folder(tmp_path, "wide", {"num_filters": 4}), "has shape"),
        (_folder(tmp_path, "more_q", {"target_bandwidths": [1.5, 6.0]}), "of the 8 codebooks"),
        (_folder(tmp_path, "no_lstm", edit={lstm: None}), f"missing {lstm}"),
        (_folder(tmp_path, "bad_book", edit={book: torch.zeros(512, 8)}), "codebooks of shapes"),
        (_folder(tmp_path, "extra", edit={"decoder.layers.99.conv.weight": torch.zeros(1)}), "layers.99"),
    ]
    for path, match in cases:
        with pytest.raises(VoiceError, match=match):
            load_codec(path)
    with pytest.raises(ConfigError, match="needs 8 codebooks"):
        load_codec(META, bandwidth=6.0)
    with pytest.raises(ConfigError, match=r"codebooks must be in \[1, 4\]"):
        load_codec(HF, codebooks=0)
