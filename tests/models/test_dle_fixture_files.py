"""The committed DLE Tacotron2 + WaveGlow fixtures (tools/dle_fixtures.py) are what the script claims.

torch + numpy only (no DLE, no sonorant model code): these guard the fixture files themselves -- DLE's
training-checkpoint layout, the reference arrays' keys and shapes, the gate tuning -- not sonorant's models.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

FIXTURES = Path(__file__).parent.parent / "fixtures" / "tacotron2"
CHECKPOINTS = ["tacotron2_tiny.pt", "waveglow_tiny.pt"]
CHECKPOINT_KEYS = {  # train.py's save_checkpoint
    "epoch", "cuda_rng_state_all", "random_rng_states_all", "config", "state_dict", "optimizer", "scaler"}
BUFFERS = ("running_mean", "running_var", "num_batches_tracked")
STEPS_RANGE = (15, 80)


@functools.cache
def _checkpoint(name: str) -> dict[str, Any]:
    return torch.load(FIXTURES / name, map_location="cpu", weights_only=True)


@functools.cache
def _npz(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / name) as z:
        return dict(z)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x.astype(np.float64)))


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_checkpoint_has_dle_training_layout(name: str) -> None:
    ckpt = _checkpoint(name)
    assert set(ckpt) == CHECKPOINT_KEYS
    assert isinstance(ckpt["epoch"], int) and ckpt["scaler"] == {}  # no AMP: GradScaler(enabled=False)
    assert ckpt["cuda_rng_state_all"].dtype == torch.uint8 and ckpt["cuda_rng_state_all"].shape == (1, 16)
    assert ckpt["random_rng_states_all"].dtype == torch.uint8 and ckpt["random_rng_states_all"].shape[0] == 1
    sd = ckpt["state_dict"]
    assert sd and all(k.startswith("module.") for k in sd)  # DistributedDataParallel
    params = [k for k in sd if not k.endswith(BUFFERS)]
    optimizer = ckpt["optimizer"]
    assert set(optimizer) == {"state", "param_groups"} and len(optimizer["param_groups"]) == 1
    assert optimizer["param_groups"][0]["params"] == list(range(len(params)))  # Adam(model.parameters())
    assert optimizer["state"]
    for index, state in optimizer["state"].items():
        assert float(state["step"]) == 1.0
        assert state["exp_avg"].shape == state["exp_avg_sq"].shape == sd[params[index]].shape


def test_tacotron2_checkpoint_matches_its_config() -> None:
    ckpt = _checkpoint("tacotron2_tiny.pt")
    cfg, sd = ckpt["config"], ckpt["state_dict"]
    assert cfg["n_symbols"] == 148 and cfg["n_mel_channels"] == 80 and cfg["n_frames_per_step"] == 1
    e, p, d = cfg["encoder_embedding_dim"], cfg["prenet_dim"], cfg["decoder_rnn_dim"]
    assert sd["module.embedding.weight"].shape == (148, cfg["symbols_embedding_dim"])
    assert sd["module.decoder.prenet.layers.0.linear_layer.weight"].shape == (p, 80)
    assert sd["module.decoder.attention_rnn.weight_ih"].shape == (4 * cfg["attention_rnn_dim"], p + e)
    assert sd["module.decoder.decoder_rnn.weight_ih"].shape == (4 * d, cfg["attention_rnn_dim"] + e)
    assert sd["module.decoder.gate_layer.linear_layer.weight"].shape == (1, d + e)
    loc = sd["module.decoder.attention_layer.location_layer.location_conv.conv.weight"]
    assert loc.shape == (cfg["attention_location_n_filters"], 2, cfg["attention_location_kernel_size"])
    n_post = cfg["postnet_n_convolutions"]
    assert sd[f"module.postnet.convolutions.{n_post - 1}.0.conv.weight"].shape == (80, cfg["postnet_embedding_dim"], 5)
    # eval-mode BatchNorm is not the identity: running stats were randomized
    for key in [k for k in sd if k.endswith("running_var")]:
        assert not torch.allclose(sd[key], torch.ones_like(sd[key]))


def test_waveglow_checkpoint_matches_its_config() -> None:
    ckpt = _checkpoint("waveglow_tiny.pt")
    cfg, sd = ckpt["config"], ckpt["state_dict"]
    assert (cfg["n_mel_channels"], cfg["n_flows"], cfg["n_group"], cfg["n_early_every"], cfg["n_early_size"]) == (
        80, 12, 8, 4, 2)
    wn = cfg["WN_config"]
    assert sd["module.upsample.weight"].shape == (80, 80, 1024)  # stored as a small strided view (see the script)
    remaining = cfg["n_group"]
    for k in range(cfg["n_flows"]):
        if k % cfg["n_early_every"] == 0 and k > 0:
            remaining -= cfg["n_early_size"]
        half = remaining // 2
        assert sd[f"module.convinv.{k}.conv.weight"].shape == (remaining, remaining, 1)
        assert sd[f"module.WN.{k}.start.weight_v"].shape == (wn["n_channels"], half, 1)  # weight norm kept
        assert sd[f"module.WN.{k}.start.weight_g"].shape == (wn["n_channels"], 1, 1)
        assert sd[f"module.WN.{k}.cond_layers.0.weight_v"].shape == (2 * wn["n_channels"], 80 * 8, 1)
        last = wn["n_layers"] - 1
        assert sd[f"module.WN.{k}.res_skip_layers.{last}.weight_v"].shape == (wn["n_channels"], wn["n_channels"], 1)
        assert sd[f"module.WN.{k}.end.weight"].shape == (2 * half, wn["n_channels"], 1)
        assert sd[f"module.WN.{k}.end.weight"].abs().max() > 0  # DLE zero-inits it; randomized here
        assert f"module.WN.{k}.in_layers.{wn['n_layers']}.bias" not in sd


def test_tacotron2_references_are_consistent() -> None:
    z = _npz("tacotron2_tiny_ref.npz")
    cfg = _checkpoint("tacotron2_tiny.pt")["config"]
    n_utts, p, e = int(z["n_utts"]), cfg["prenet_dim"], cfg["encoder_embedding_dim"]
    assert n_utts >= 4 and float(z["gate_threshold"]) == cfg["gate_threshold"]
    assert int(z["max_decoder_steps"]) == cfg["max_decoder_steps"]
    bias = _checkpoint("tacotron2_tiny.pt")["state_dict"]["module.decoder.gate_layer.linear_layer.bias"]
    assert float(z["gate_bias"]) == float(bias[0])
    steps_seen, lengths_seen = set(), set()
    for i in range(n_utts):
        ids, masks, gate = z[f"ids_{i}"], z[f"masks_{i}"], z[f"gate_{i}"]
        n, steps = len(ids), len(gate)
        assert ids.dtype == np.int64 and ids.min() >= 1 and ids.max() < 148
        assert masks.shape == (steps, 2, p) and masks.dtype == np.float32
        assert set(np.unique(masks)) <= {0.0, 1.0} and 0.3 < masks.mean() < 0.7
        assert z[f"memory_{i}"].shape == (n, e)
        assert z[f"mel_{i}"].shape == z[f"mel_postnet_{i}"].shape == (80, steps)
        assert not np.allclose(z[f"mel_{i}"], z[f"mel_postnet_{i}"])
        align = z[f"align_{i}"]
        assert align.shape == (steps, n) and np.allclose(align.sum(axis=1), 1.0, atol=1e-5)
        # the gate fired at the last step and not before (early stopping), and in the tuned range
        prob = _sigmoid(gate)
        assert prob[-1] > z["gate_threshold"] and (prob[:-1] <= z["gate_threshold"]).all()
        mel_length = int(z[f"mel_length_{i}"])
        assert mel_length == steps - 1 < steps and STEPS_RANGE[0] <= steps <= STEPS_RANGE[1]
        steps_seen.add(steps)
        lengths_seen.add(n)
    assert len(steps_seen) == n_utts and len(lengths_seen) == n_utts


def test_tacotron2_batched_reference_is_consistent() -> None:
    z = _npz("tacotron2_tiny_ref.npz")
    n_utts, p = int(z["n_utts"]), _checkpoint("tacotron2_tiny.pt")["config"]["prenet_dim"]
    order, lengths, ids = z["batch_order"], z["batch_input_lengths"], z["batch_ids"]
    assert sorted(order.tolist()) == list(range(n_utts))
    assert (np.diff(lengths) <= 0).all() and ids.shape == (n_utts, lengths[0])
    for row, i in enumerate(order):
        assert lengths[row] == len(z[f"ids_{i}"]) and (ids[row, : lengths[row]] == z[f"ids_{i}"]).all()
        assert (ids[row, lengths[row] :] == 0).all()
    steps = z["batch_masks"].shape[0]
    assert z["batch_masks"].shape == (steps, n_utts, 2, p) and set(np.unique(z["batch_masks"])) <= {0.0, 1.0}
    assert z["batch_mel_postnet"].shape == (n_utts, 80, steps)
    assert z["batch_mel_lengths"].shape == (n_utts,) and z["batch_mel_lengths"].max() == steps - 1


def test_waveglow_references_are_consistent() -> None:
    z = _npz("waveglow_tiny_ref.npz")
    t2 = _npz("tacotron2_tiny_ref.npz")
    assert int(z["n_cases"]) == 2 and int(z["onnx_sigma_scaled_from_channel"]) == 4
    assert np.array_equal(z["mel_0"][0], t2["mel_postnet_0"])
    assert z["bias_spec"].shape == (1, 513, 1)
    for k in range(int(z["n_cases"])):
        frames = z[f"mel_{k}"].shape[2]
        assert z[f"mel_{k}"].shape == (1, 80, frames)
        assert z[f"z_{k}"].shape == (1, 8, frames * 32) and 0.9 < z[f"z_{k}"].std() < 1.1  # unscaled draws
        assert 0.0 < float(z[f"sigma_{k}"]) < 1.0
        audio = z[f"audio_{k}"]
        assert audio.shape == (1, frames * 256) and np.isfinite(audio).all() and audio.std() > 1e-3
        weak, strong = z[f"denoised_{k}_0.01"], z[f"denoised_{k}_0.1"]
        assert weak.shape == strong.shape and weak.shape[:2] == (1, 1) and not np.allclose(weak, strong)
    assert z["mel_1"].shape[2] == 50


def test_fixture_directory_is_small_and_documented() -> None:
    files = {p.name: p.stat().st_size for p in FIXTURES.iterdir()}
    assert sum(files.values()) < 8_000_000
    readme = (FIXTURES / "README.md").read_text()
    assert all(name in readme for name in files if name != "README.md")
