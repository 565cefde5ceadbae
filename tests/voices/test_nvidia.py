"""Reading DLE Tacotron2 / WaveGlow checkpoints: formats (distributed prefixes, bare state dicts, no config),
kind detection, and clear errors for files that are not what they should be."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from dle_cases import TACOTRON2, WAVEGLOW

from sonorant.errors import SonorantError, VoiceError
from sonorant.models.tacotron2 import Tacotron2
from sonorant.models.waveglow import WaveGlow
from sonorant.voices.nvidia import load_tacotron2, load_waveglow, probe, read_dle


def _state(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


def test_probe_and_read() -> None:
    assert probe(TACOTRON2) == "tacotron2"
    assert probe(WAVEGLOW) == "waveglow"
    ckpt = read_dle(WAVEGLOW)
    assert ckpt.config is not None and not any(k.startswith("module.") for k in ckpt.state)


def test_load_both() -> None:
    taco, wg = load_tacotron2(TACOTRON2), load_waveglow(WAVEGLOW)
    assert isinstance(taco, Tacotron2) and not taco.training
    assert isinstance(wg, WaveGlow) and not wg.training
    assert not any("weight_g" in k for k in wg.state_dict())


@pytest.mark.parametrize("prefix", ["", "module.", "module.1."])
def test_bare_state_dict_sizes_from_weights(tmp_path: Path, prefix: str) -> None:
    """Without `config` every size is read off the weights; the prefix is stripped."""
    for path, load in ((TACOTRON2, load_tacotron2), (WAVEGLOW, load_waveglow)):
        state = {prefix + k.removeprefix("module."): v for k, v in _state(path).items()}
        bare = tmp_path / f"bare_{path.name}"
        torch.save(state, bare)
        model = load(bare)
        reference = load(path)
        same = {k: v for k, v in reference.cfg.to_dict().items() if k != "max_decoder_steps"}
        assert {k: v for k, v in model.cfg.to_dict().items() if k in same} == same
        for (k, a), (_, b) in zip(model.state_dict().items(), reference.state_dict().items()):
            assert torch.equal(a, b), k


def test_wrong_kind(tmp_path: Path) -> None:
    with pytest.raises(VoiceError, match="WaveGlow .* not a Tacotron2"):
        load_tacotron2(WAVEGLOW)
    with pytest.raises(VoiceError, match="Tacotron2 .* not a WaveGlow"):
        load_waveglow(TACOTRON2)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {"linear.weight": torch.zeros(2, 2)}}, other)
    assert probe(other) is None
    with pytest.raises(VoiceError, match="neither a Tacotron2 nor a WaveGlow"):
        load_waveglow(other)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(VoiceError, match="does not exist"):
        load_tacotron2(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(VoiceError, match="not a checkpoint sonorant can read"):
        read_dle(junk)
    assert probe(junk) is None
    pickled = tmp_path / "pickled.pt"
    torch.save({"model": torch.nn.Linear(2, 2)}, pickled)  # NVIDIA's original release pickles whole models
    with pytest.raises(VoiceError, match="pickles Python objects"):
        load_waveglow(pickled)
    listed = tmp_path / "list.pt"
    torch.save([1, 2, 3], listed)
    with pytest.raises(VoiceError, match="not a DLE checkpoint"):
        read_dle(listed)


def test_incomplete_or_mismatched_weights(tmp_path: Path) -> None:
    ckpt = torch.load(TACOTRON2, weights_only=True)
    state = dict(ckpt["state_dict"])
    key = next(k for k in state if k.endswith("postnet.convolutions.1.0.conv.weight"))
    del state[key]
    broken = tmp_path / "missing_key.pt"
    torch.save({**ckpt, "state_dict": state}, broken)
    with pytest.raises(VoiceError, match="missing postnet.convolutions.1.0.weight"):
        load_tacotron2(broken)
    config = dict(ckpt["config"], prenet_dim=int(ckpt["config"]["prenet_dim"]) + 1)
    mismatched = tmp_path / "mismatch.pt"
    torch.save({**ckpt, "config": config}, mismatched)
    with pytest.raises(SonorantError, match="has shape"):
        load_tacotron2(mismatched)
    wg = torch.load(WAVEGLOW, weights_only=True)
    wstate = {k: v for k, v in wg["state_dict"].items() if not k.endswith("WN.0.start.weight_g")}
    half = tmp_path / "half_norm.pt"
    torch.save({**wg, "state_dict": wstate}, half)
    with pytest.raises(VoiceError, match="weight norm"):
        load_waveglow(half)


def test_legacy_serialization(tmp_path: Path) -> None:
    """Files saved in torch's pre-zip format (which cannot be memory-mapped) load too."""
    legacy = tmp_path / "legacy.pt"
    torch.save(torch.load(WAVEGLOW, weights_only=True), legacy, _use_new_zipfile_serialization=False)
    model, reference = load_waveglow(legacy), load_waveglow(WAVEGLOW)
    for (k, a), (_, b) in zip(model.state_dict().items(), reference.state_dict().items()):
        assert torch.equal(a, b), k
