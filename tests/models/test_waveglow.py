"""WaveGlow and its denoiser: parity with DLE on the committed fixtures, padded batches equal to single
rows, and the receptive field the spec promises."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from dle_cases import SNR_MIN_DB, WAVEGLOW, case, indices, snr_db

from sonorant.models.waveglow import Denoiser, WaveGlow, WaveGlowConfig
from sonorant.models.waveglow.model import Invertible1x1
from sonorant.voices.nvidia import load_waveglow


@pytest.fixture(scope="module")
def waveglow() -> WaveGlow:
    return load_waveglow(WAVEGLOW)


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    return case("waveglow_tiny_ref")


def _inputs(ref: dict[str, np.ndarray], k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(mel [1, n_mel, t], scaled z [1, n_group, t * hop / n_group]) of case k."""
    mel = torch.from_numpy(ref[f"mel_{k}"]).float().reshape(1, 80, -1)
    z = torch.from_numpy(ref[f"z_{k}"]).float().reshape(1, 8, -1) * float(ref[f"sigma_{k}"])
    return mel, z


def test_default_config_is_dle() -> None:
    cfg = WaveGlowConfig()
    assert (cfg.n_mel, cfg.n_flows, cfg.n_group, cfg.n_early_every, cfg.n_early_size) == (80, 12, 8, 4, 2)
    assert (cfg.wn_layers, cfg.wn_channels, cfg.wn_kernel, cfg.remaining_channels) == (8, 512, 3, 4)
    assert cfg.reach() == 101  # 12 flows x 255 positions + the upsample kernel's 127, at 32 positions per frame


def test_inverse_is_computed_on_load(waveglow: WaveGlow) -> None:
    for conv in waveglow.convinv:
        assert isinstance(conv, Invertible1x1)
        w = conv.weight.detach().squeeze(-1).double()
        eye = torch.eye(w.shape[0], dtype=torch.float64)
        assert float((conv.w_inverse.squeeze(-1).double() @ w - eye).abs().max()) < 1e-5
        assert "w_inverse" not in conv.state_dict()


def test_parity_with_dle(waveglow: WaveGlow, ref: dict[str, np.ndarray]) -> None:
    ks = indices(ref, "audio")
    assert ks
    for k in ks:
        mel, z = _inputs(ref, k)
        with torch.no_grad():
            audio = waveglow.infer(mel, z)
        expected = ref[f"audio_{k}"].reshape(-1)
        assert audio.shape[1] == expected.size == mel.shape[2] * 256
        snr = snr_db(expected, audio.numpy().reshape(-1))
        assert snr >= SNR_MIN_DB, (k, snr)


def test_batch_equals_single(waveglow: WaveGlow) -> None:
    g = torch.Generator().manual_seed(3)
    lengths = [5, 41, 17]
    t = max(lengths)
    mel = torch.zeros(3, 80, t)
    z = torch.zeros(3, 8, t * 32)
    singles = []
    for i, n in enumerate(lengths):
        m = torch.randn(1, 80, n, generator=g) - 3
        zi = torch.randn(1, 8, n * 32, generator=g) * 0.6
        mel[i, :, :n], z[i, :, : n * 32] = m[0], zi[0]
        with torch.no_grad():
            singles.append(waveglow.infer(m, zi)[0])
    with torch.no_grad():
        batch = waveglow.infer(mel, z, torch.tensor(lengths))
    for i, n in enumerate(lengths):
        assert snr_db(singles[i].numpy(), batch[i, : n * 256].numpy()) >= SNR_MIN_DB
        assert float(batch[i, n * 256 :].abs().sum()) == 0.0


def _changed_frames(before: torch.Tensor, after: torch.Tensor, hop: int) -> np.ndarray:
    diff = (after - before).abs().reshape(-1, hop).amax(1)  # [frames]
    return np.nonzero(diff.numpy() > 0)[0]


@pytest.mark.parametrize("denoise", [False, True])
def test_receptive_field(waveglow: WaveGlow, denoise: bool) -> None:
    """Perturb one mel frame of a long input: audio changes only within the spec's reach of it."""
    from sonorant.models.tacotron2.spec import denoiser_reach

    reach = waveglow.reach + (denoiser_reach(256) if denoise else 0)
    t, f0 = 4 * reach + 8, 2 * reach + 3
    g = torch.Generator().manual_seed(4)
    mel = torch.randn(1, 80, t, generator=g) - 3
    z = torch.randn(1, 8, t * 32, generator=g) * 0.6
    moved = mel.clone()
    moved[:, :, f0] += 2.0
    post = Denoiser(waveglow, 0.3) if denoise else (lambda a: a)
    with torch.no_grad():
        changed = _changed_frames(post(waveglow.infer(mel, z)), post(waveglow.infer(moved, z)), 256)
    assert changed.size > 0
    assert changed.min() >= f0 - reach and changed.max() <= f0 + reach, (changed.min(), changed.max(), f0, reach)


def test_denoiser_parity_with_dle(waveglow: WaveGlow, ref: dict[str, np.ndarray]) -> None:
    den = Denoiser(waveglow)
    assert snr_db(ref["bias_spec"].reshape(-1), den.bias_spec.numpy()) >= SNR_MIN_DB
    keys = [(m.group(1), m.group(2)) for key in ref if (m := re.fullmatch(r"denoised_(\d+)_([\d.]+)", key))]
    assert keys
    for k, strength in keys:
        audio = torch.from_numpy(ref[f"audio_{k}"]).float().reshape(1, -1)
        with torch.no_grad():
            out = den(audio, strength=float(strength))
        expected = ref[f"denoised_{k}_{strength}"].reshape(-1)
        assert snr_db(expected, out.numpy().reshape(-1)) >= SNR_MIN_DB, (k, strength)


def test_denoiser_batch_equals_single(waveglow: WaveGlow) -> None:
    den = Denoiser(waveglow, 0.2)
    g = torch.Generator().manual_seed(5)
    lengths = [3 * 256, 40 * 256, 11 * 256]
    rows = [torch.randn(1, n, generator=g) * 0.3 for n in lengths]
    batch = torch.zeros(3, max(lengths))
    for i, r in enumerate(rows):
        batch[i, : r.shape[1]] = r[0]
    with torch.no_grad():
        out = den(batch, torch.tensor(lengths))
        for i, r in enumerate(rows):
            single = den(r)[0]
            assert snr_db(single.numpy(), out[i, : lengths[i]].numpy()) >= SNR_MIN_DB
            assert float(out[i, lengths[i] :].abs().sum()) == 0.0
