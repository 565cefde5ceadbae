"""The unit codec: codes -> centroid frames -> a voice's vocoder; streaming equal to the whole decode, padded
rows equal to single ones, nearest-unit encoding, and a decode of the committed joe codebook."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_voices import TINY_CONFIGS, init_tiny_weights
from torch import nn

import sonorant
from sonorant.errors import ConfigError
from sonorant.models.base import FamilySpec
from sonorant.models.common import Generator, GeneratorConfig, generator_reach
from sonorant.models.units import RegulatedFrames, UnitCodec, fit_kmeans, unit_vectors
from sonorant.models.vits import Vits
from sonorant.voices.units import load_unit_codec

FIXTURES = Path(__file__).parents[1] / "fixtures" / "units"
TINY = {
    "type2": GeneratorConfig(in_channels=8, upsample_initial_channel=16, upsample_rates=(8, 8, 4),
                             upsample_kernel_sizes=(16, 16, 8), resblock="2", resblock_kernel_sizes=(3, 5, 7),
                             resblock_dilation_sizes=((1, 2), (2, 6), (3, 12))),
    "type1": GeneratorConfig(in_channels=8, upsample_initial_channel=16),
}


class Vocode(nn.Module):
    """A generator behind the contract's vocode signature (z, lengths, g)."""

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, z: torch.Tensor, lengths: torch.Tensor | None = None,
                g: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(z, lengths, g)


@pytest.fixture(autouse=True)
def _no_onednn() -> Iterator[None]:
    """oneDNN builds convolution kernels anew for every input length: on tiny models that costs far more
    than the convolutions (every streaming window has a new length)."""
    previous = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = previous


def tiny_codec(kind: str = "type2", per_unit: int = 1, bins: int = 32, seed: int = 0) -> UnitCodec:
    cfg = TINY[kind]
    torch.manual_seed(seed)
    spec = FamilySpec(family="tiny", sample_rate=16000, hop=cfg.hop, n_vocab=8, token_channels=16, channels=8,
                      vocoder_reach=generator_reach(cfg))
    return UnitCodec(torch.randn(bins, 8, per_unit), Vocode(Generator(cfg).eval()), spec).eval()


def regulated_codec(per_unit: int = 2, bins: int = 32) -> UnitCodec:
    """Units over a tiny VITS's prior means, decoded by its flows (noise off) and its decoder."""
    model = init_tiny_weights(Vits(TINY_CONFIGS["x_low"]), seed=5).eval()
    stages, spec = model.stages(), model.spec
    torch.manual_seed(1)
    centroids = torch.randn(bins, spec.channels, per_unit) * 0.5
    return UnitCodec(centroids, stages["vocode"], spec, frames=RegulatedFrames(stages["frames_post"], spec),
                     frames_reach=spec.frames_reach).eval()


def test_spec_geometry() -> None:
    codec = tiny_codec(per_unit=2, bins=48)
    reach = generator_reach(TINY["type2"])
    assert codec.spec.hop == 512 and codec.spec.bins == 48 and codec.spec.codebooks == 1 and codec.spec.channels == 8
    assert codec.spec.lookahead == -(-reach // 2) and reach == 13  # joe's decoder shape: 13 frames each side
    assert codec.centroids.shape == (48, 8, 2)


@torch.inference_mode()
@pytest.mark.parametrize(("kind", "per_unit"), [("type2", 1), ("type2", 2), ("type1", 3)])
def test_stream_equals_whole_decode(kind: str, per_unit: int) -> None:
    codec = tiny_codec(kind, per_unit)
    gen = torch.Generator().manual_seed(per_unit)
    codes = torch.randint(0, 32, (2, 1, 45), generator=gen)
    whole = codec.decode(codes)  # [2, 45 * hop]
    for _ in range(2):
        state, pieces, start = codec.stream_state(2), [], 0
        while start < codes.shape[2]:
            n = int(torch.randint(0, 12, (1,), generator=gen))  # chunks of 0 to 11 frames
            audio, state = codec.decode_stream(codes[:, :, start : start + n], state, last=False)
            pieces.append(audio)
            start += n
        audio, state = codec.decode_stream(codes[:, :, :0], state, last=True)
        pieces.append(audio)
        streamed = torch.cat(pieces, dim=1)
        assert streamed.shape == whole.shape
        assert float((streamed - whole).abs().max()) < 1e-6 * max(1.0, float(whole.abs().max()))
        assert state.closed and state.codes.shape[2] <= 2 * codec.spec.lookahead
    assert float(whole.abs().max()) > 1e-3  # not a silent decoder


@torch.inference_mode()
def test_regulated_units_stream_and_batch_exactly() -> None:
    """Units over the prior means: the flows' reach adds to the decoder's in the lookahead; the stream equals
    the whole decode, padded rows equal single ones, and the decode is flows (noise off) then decoder."""
    codec = regulated_codec(per_unit=2)
    assert codec.spec.lookahead == -(-(32 + 13) // 2)  # four flows of four k5 layers reach 32 frames
    gen = torch.Generator().manual_seed(11)
    codes = torch.randint(0, 32, (2, 1, 50), generator=gen)
    whole = codec.decode(codes)
    state, pieces, start = codec.stream_state(2), [], 0
    while start < 50:
        n = int(torch.randint(1, 15, (1,), generator=gen))
        audio, state = codec.decode_stream(codes[:, :, start : start + n], state, last=start + n >= 50)
        pieces.append(audio)
        start += n
    assert float((torch.cat(pieces, dim=1) - whole).abs().max()) < 1e-5 * max(1.0, float(whole.abs().max()))
    lengths = torch.tensor([50, 31])
    batch = codec.decode(codes, lengths)
    single = codec.decode(codes[1:, :, :31])[0]
    assert float((batch[1, : 31 * 512] - single).abs().max()) < 1e-5 and not batch[1, 31 * 512 :].any()
    model = codec.vocoder.dec  # VITS's vocode stage holds the decoder as `dec`
    x = codec.frames(codes[:1])  # [1, 32, 100]
    stats = torch.cat([x, torch.zeros_like(x)], dim=1)
    z = codec.prenet.post.model.prior_flows(stats, torch.ones(1, 1, 100), torch.zeros(1), torch.zeros_like(x), None)
    assert float((model(z, None)[0] - whole[0]).abs().max()) < 1e-5 and float(whole.abs().max()) > 1e-4


@torch.inference_mode()
def test_stream_holds_back_lookahead_and_ends_once() -> None:
    codec = tiny_codec(per_unit=2)
    codes = torch.randint(0, 32, (1, 1, 20))
    audio, state = codec.decode_stream(codes[:, :, :5], codec.stream_state(1), last=False)
    assert audio.shape == (1, 0)  # 5 frames <= lookahead 7: none final yet
    audio, state = codec.decode_stream(codes[:, :, 5:], state, last=False)
    assert audio.shape == (1, (20 - codec.spec.lookahead) * codec.spec.hop)
    audio, state = codec.decode_stream(codes[:, :, :0], state, last=True)
    assert audio.shape == (1, codec.spec.lookahead * codec.spec.hop)
    with pytest.raises(ConfigError, match="ended"):
        codec.decode_stream(codes, state, last=True)


@torch.inference_mode()
@pytest.mark.parametrize("per_unit", [1, 2])
def test_batch_equals_single(per_unit: int) -> None:
    codec = tiny_codec(per_unit=per_unit)
    gen = torch.Generator().manual_seed(7)
    lengths = [23, 40, 9]
    codes = torch.randint(0, 32, (3, 1, 40), generator=gen)
    batch = codec.decode(codes, torch.tensor(lengths))  # [3, 40 * hop]
    hop = codec.spec.hop
    for i, n in enumerate(lengths):
        single = codec.decode(codes[i : i + 1, :, :n])[0]
        assert float((batch[i, : n * hop] - single).abs().max()) < 1e-6
        assert not batch[i, n * hop :].any()  # nothing past the row's length
        assert float(single.abs().max()) > 1e-3


@torch.inference_mode()
def test_encode_finds_the_units_it_decodes_from() -> None:
    codec = tiny_codec(per_unit=2, bins=32)
    codes = torch.randint(0, 32, (2, 1, 15))
    frames = codec.frames(codes)  # [2, 8, 30]
    assert torch.equal(codec.encode(frames), codes)
    # odd lengths: the last unit is completed with copies of the row's last frame
    lengths = torch.tensor([29, 30])
    edge = unit_vectors(frames, 2, lengths)  # [2, 15, 16]
    last = edge[0, 14].view(8, 2)
    assert torch.equal(last[:, 0], last[:, 1]) and torch.equal(last[:, 0], frames[0, :, 28])
    assert torch.equal(codec.encode(frames, lengths)[1], codes[1])


def test_kmeans_recovers_separated_clusters() -> None:
    gen = torch.Generator().manual_seed(3)
    centres = torch.randn(6, 4, generator=gen) * 10
    labels = torch.arange(600) % 6
    x = centres[labels] + 0.1 * torch.randn(600, 4, generator=gen)
    result = fit_kmeans(x, 6, seed=1)
    found = torch.cdist(centres, result.centroids).argmin(dim=1)
    assert sorted(found.tolist()) == list(range(6))  # one centroid per true cluster
    assert float(torch.cdist(centres, result.centroids).min(dim=1).values.max()) < 0.1
    assert 0.03 < result.inertia < 0.05  # 4 dims x 0.1^2 noise
    with pytest.raises(ConfigError):
        fit_kmeans(x, 601)


def test_bad_codes_are_config_errors() -> None:
    codec = tiny_codec()
    with pytest.raises(ConfigError, match=r"\[0, 32\)"):
        codec.decode(torch.tensor([[[0, 32]]]))
    with pytest.raises(ConfigError, match=r"\[batch, 1, frames\]"):
        codec.decode(torch.zeros(1, 2, 3, dtype=torch.int64))
    with pytest.raises(ConfigError, match="integers"):
        codec.decode(torch.zeros(1, 1, 3))
    with pytest.raises(ConfigError, match=r"\[batch, 8, t\]"):
        tiny_codec().encode(torch.zeros(1, 5, 3))


def _log_spectral_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over frames of the RMS difference of the log power spectra in dB (as tools/unit_fixture.py)."""
    n = min(len(a), len(b))
    win = torch.hann_window(1024)
    la, lb = (10 * torch.log10(torch.stft(torch.from_numpy(np.ascontiguousarray(x[:n])), 1024, 256, window=win,
                                          return_complex=True).abs() ** 2 + 1e-8) for x in (a, b))
    return float(((la - lb) ** 2).mean(0).sqrt().mean())


@torch.inference_mode()
def test_committed_joe_codebook_decodes_to_speech(joe: sonorant.Voice) -> None:
    """tests/fixtures/units (tools/unit_fixture.py): 64 units over pairs of joe's prior-mean frames; the units
    of a sentence decode (joe's flows with noise off, then its decoder) to audio whose spectrum is within the
    fixture's measured distance of joe's own audio, far closer than random units."""
    path, ref_path = FIXTURES / "joe_reg_k64_f2.npz", FIXTURES / "joe_reg_k64_f2_codes.json"
    assert path.is_file() and ref_path.is_file(), "committed fixture missing: run tools/unit_fixture.py"
    ref = json.loads(ref_path.read_text())
    codec = load_unit_codec(path)
    assert (codec.spec.bins, codec.spec.hop, codec.spec.sample_rate, codec.spec.lookahead) == (64, 512, 22050, 23)
    codes = torch.tensor(ref["codes"]).view(1, 1, -1)
    audio = codec.decode(codes)[0].numpy()
    assert audio.shape == (codes.shape[2] * 512,) and codes.shape[2] == -(-ref["frames"] // 2)
    plain = joe.synthesize(ref["text"], sonorant.SynthesisConfig(knobs=ref["knobs"], seed=0)).samples
    assert abs(len(plain) - len(audio)) <= 512
    lsd = _log_spectral_distance(audio, plain)
    assert lsd < ref["lsd_db"] + 0.5
    noise = codec.decode(torch.randint(0, 64, codes.shape, generator=torch.Generator().manual_seed(0)))[0].numpy()
    assert _log_spectral_distance(noise, plain) > lsd + 3.0
