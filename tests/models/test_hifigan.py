"""The shared HiFi-GAN generator: VITS's decoder names, NeMo's vocoder parity, receptive-field bound,
padded rows equal to single ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from nemo_cases import HIFIGAN_V1, HIFIGAN_V3, SNR_MIN_DB, case, snr_db

from sonorant.models.common import NEMO_V1, NEMO_V2, NEMO_V3, Generator, GeneratorConfig, generator_reach
from sonorant.models.hifigan import HifiGan, HifiGanConfig, MelConfig
from sonorant.models.vits import Vits, VitsConfig
from sonorant.models.vits.spec import decoder_reach
from sonorant.voices.nemo import load_hifigan

TINY_V1 = GeneratorConfig(in_channels=8, upsample_initial_channel=16)
TINY_V3 = GeneratorConfig(in_channels=8, upsample_initial_channel=16, upsample_rates=(8, 8, 4),
                          upsample_kernel_sizes=(16, 16, 8), resblock="2", resblock_kernel_sizes=(3, 5, 7),
                          resblock_dilation_sizes=((1, 2), (2, 6), (3, 12)))


def _generator(cfg: GeneratorConfig, seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    return Generator(cfg).eval()


def test_vits_decoder_keeps_piper_names() -> None:
    cfg = VitsConfig(n_vocab=10, inter_channels=8, upsample_initial_channel=16, n_speakers=2, gin_channels=4)
    keys = {k for k in Vits(cfg).state_dict() if k.startswith("dec.")}
    assert {"dec.conv_pre.weight", "dec.ups.0.weight", "dec.resblocks.8.convs.1.weight", "dec.cond.weight",
            "dec.conv_post.weight"} <= keys
    assert "dec.conv_post.bias" not in keys  # VITS's conv_post has no bias, NeMo's has
    assert "generator.conv_post.bias" in HifiGan(HifiGanConfig(generator=NEMO_V3, mel=MelConfig())).state_dict()


def test_nemo_presets() -> None:
    assert NEMO_V1.hop == NEMO_V2.hop == NEMO_V3.hop == 256
    def count(cfg: GeneratorConfig) -> int:
        return sum(p.numel() for p in Generator(cfg).parameters())

    # NeMo's own generators after remove_weight_norm() have exactly these many parameters
    assert (count(NEMO_V1), count(NEMO_V3)) == (13_926_017, 1_462_273)
    assert GeneratorConfig.from_dict(NEMO_V3.to_dict()) == NEMO_V3
    assert (generator_reach(NEMO_V1), generator_reach(NEMO_V2), generator_reach(NEMO_V3)) == (16, 16, 13)


def test_vits_decoder_reach_is_the_generators() -> None:
    """The values the engine's own formula gave before it moved here (Piper medium; an ESPnet-like v1 shape)."""
    assert decoder_reach(VitsConfig(n_vocab=10)) == 13
    v1 = VitsConfig(n_vocab=10, resblock="1", resblock_kernel_sizes=(3, 7, 11), resblock_dilation_sizes=((1, 3, 5),) * 3,
                    upsample_rates=(8, 8, 2, 2), upsample_kernel_sizes=(16, 16, 4, 4), upsample_initial_channel=512)
    assert decoder_reach(v1) == 16 == generator_reach(NEMO_V1)


@pytest.mark.parametrize("cfg", [TINY_V1, TINY_V3], ids=["v1", "v3"])
def test_reach_bounds_the_receptive_field(cfg: GeneratorConfig) -> None:
    gen = _generator(cfg)
    z = torch.randn(1, cfg.in_channels, 60)
    with torch.inference_mode():
        base = gen(z, None)
        bumped = z.clone()
        bumped[:, :, 30] += 1.0
        moved = (gen(bumped, None) - base).abs()[0].reshape(60, cfg.hop).amax(dim=1)
    touched = torch.nonzero(moved > 1e-6).flatten()
    reach = int(max(30 - touched.min(), touched.max() - 30))
    assert 0 < reach <= generator_reach(cfg)


@pytest.mark.parametrize("cfg", [TINY_V1, TINY_V3], ids=["v1", "v3"])
def test_padded_rows_equal_single_rows(cfg: GeneratorConfig) -> None:
    gen = _generator(cfg)
    lengths = [13, 7, 20]
    rows = [torch.randn(1, cfg.in_channels, n) for n in lengths]
    batch = torch.full((3, cfg.in_channels, 24), 5.0)  # junk past each length
    for i, r in enumerate(rows):
        batch[i, :, : r.shape[2]] = r[0]
    with torch.inference_mode():
        out = gen(batch, torch.tensor(lengths))
        for i, r in enumerate(rows):
            alone = gen(r, None)[0]
            assert out.shape == (3, 24 * cfg.hop)
            assert float((out[i, : alone.shape[0]] - alone).abs().max()) <= 1e-5


def test_conditioning_vector_is_added_after_conv_pre() -> None:
    cfg = GeneratorConfig(in_channels=8, upsample_initial_channel=16, upsample_rates=(4,), upsample_kernel_sizes=(8,),
                          cond_channels=3, post_bias=False)
    gen = _generator(cfg)
    z, g = torch.randn(2, 8, 10), torch.randn(2, 3, 1)
    with torch.inference_mode():
        assert not torch.allclose(gen(z, None, g), gen(z, None))
        assert torch.allclose(gen(z, torch.tensor([10, 10]), g), gen(z, None, g), atol=1e-6)


def test_mel_config_mismatches_name_the_fields() -> None:
    a = MelConfig()
    assert a.mismatches(MelConfig(log_guard_type="clamp")) == []  # NVIDIA's own pairs differ here
    assert a.mismatches(MelConfig(sample_rate=44100, hop=512)) == ["sample_rate: 22050 vs 44100", "hop: 256 vs 512"]
    assert MelConfig.from_dict(a.to_dict()) == a
    with pytest.raises(ValueError, match="samples per frame"):
        HifiGan(HifiGanConfig(mel=MelConfig(hop=512), generator=NEMO_V1))


@pytest.mark.parametrize("path, name", [(HIFIGAN_V1, "hifigan_tiny_v1"), (HIFIGAN_V3, "hifigan_tiny_v3")],
                         ids=["v1", "v3"])
@pytest.mark.parametrize("source", ["random_mel", "fastpitch_batch2short"])
def test_vocoder_matches_nemo(path, name: str, source: str) -> None:
    """sonorant's HiFi-GAN on NeMo's input mel (whole padded batch, as NeMo ran it) vs NeMo's
    `convert_spectrogram_to_audio`."""
    vocoder = load_hifigan(path)
    ref = case(f"{name}__{source}")
    with torch.inference_mode():
        audio = vocoder(torch.from_numpy(ref["mel"])).numpy()
    assert audio.shape == ref["audio"].shape
    for row in range(audio.shape[0]):
        assert snr_db(ref["audio"][row], audio[row]) >= SNR_MIN_DB


def test_vocoder_lengths_give_the_unpadded_samples() -> None:
    """A FastPitch mel batch vocoded with its lengths: each row equals that row's mel vocoded alone."""
    vocoder = load_hifigan(HIFIGAN_V1)
    ref = case("hifigan_tiny_v1__fastpitch_batch2short")
    mel, lens = torch.from_numpy(ref["mel"]), ref["mel_lens"]
    with torch.inference_mode():
        batched = vocoder(mel, torch.from_numpy(lens)).numpy()
        for row, n in enumerate(lens):
            alone = vocoder(mel[row : row + 1, :, :n]).numpy()[0]
            np.testing.assert_allclose(batched[row, : n * 256], alone, atol=1e-5)
