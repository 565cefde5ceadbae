"""The VITS inference path is static by construction and padding never changes an utterance."""

from __future__ import annotations

import pytest
import torch

from sonorant.models.vits import Vits, VitsConfig
from sonorant.models.vits.duration import inverse_spline
from sonorant.arrays import DURATION_STREAM, LATENT_STREAM, numpy_normal


def duration_noise(seed: int, n_ids: int, width: int) -> torch.Tensor:
    """The engine's duration noise [2, width] for one utterance (zero past n_ids)."""
    return torch.from_numpy(numpy_normal([seed], DURATION_STREAM, 2, width, [n_ids])[0])


def latent_noise(seed: int, n_frames: int, channels: int, width: int) -> torch.Tensor:
    """The engine's prior noise [channels, width] for one utterance (zero past n_frames)."""
    return torch.from_numpy(numpy_normal([seed], LATENT_STREAM, channels, width, [n_frames])[0])

TINY = VitsConfig(
    n_vocab=40, hidden_channels=16, inter_channels=8, filter_channels=32, n_heads=2, n_layers=2,
    dp_filter_channels=16, flow_hidden_channels=8, flow_n_layers=2, n_flows=2,
    upsample_rates=(4, 4), upsample_kernel_sizes=(8, 8), upsample_initial_channel=16,
)


@pytest.fixture(scope="module")
def tiny() -> Vits:
    torch.manual_seed(0)
    model = Vits(TINY).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(0.5)
    return model


def _inputs(lengths: list[int], width: int, frames: int, seed: int = 3) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    b = len(lengths)
    ids = torch.zeros(b, width, dtype=torch.long)
    for i, n in enumerate(lengths):
        ids[i, :n] = torch.randint(1, TINY.n_vocab, (n,), generator=gen)
    return {
        "ids": ids,
        "lengths": torch.tensor(lengths),
        "noise_w": torch.full((b,), 0.8),
        "length_scale": torch.ones(b),
        "dur_noise": torch.stack([duration_noise(10 + i, n, width) for i, n in enumerate(lengths)]),
        "z_noise": torch.stack([latent_noise(10 + i, frames, TINY.inter_channels, frames) for i in range(b)]),
    }


class _Stage1(torch.nn.Module):
    def __init__(self, model: Vits) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids, lengths, noise_w, length_scale, dur_noise):  # noqa: ANN001
        enc = self.model.encode(ids, lengths, noise_w, length_scale, dur_noise)
        return enc.m_p, enc.logs_p, enc.durations, enc.frames


def test_encode_exports_as_one_static_graph(tiny: Vits) -> None:
    """torch.export refuses data-dependent shapes and host syncs; both stages must export whole."""
    x = _inputs([7, 12], 16, 64)
    ep = torch.export.export(_Stage1(tiny), (x["ids"], x["lengths"], x["noise_w"], x["length_scale"], x["dur_noise"]))
    nodes = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
    for forbidden in ("repeat_interleave", "nonzero", "_local_scalar_dense", "masked_select", "index_put"):
        assert not any(forbidden in n for n in nodes), f"{forbidden} in the static graph"


def test_decode_exports_as_one_static_graph(tiny: Vits) -> None:
    x = _inputs([7, 12], 16, 64)
    with torch.no_grad():
        enc = tiny.encode(x["ids"], x["lengths"], x["noise_w"], x["length_scale"], x["dur_noise"])

    class Stage2(torch.nn.Module):
        def __init__(self, model: Vits) -> None:
            super().__init__()
            self.model = model

        def forward(self, m_p, logs_p, durations, frames, noise_scale, z_noise):  # noqa: ANN001
            from sonorant.models.vits import Encoded

            return self.model.decode(Encoded(m_p, logs_p, durations, frames, None), noise_scale, z_noise)

    args = (enc.m_p, enc.logs_p, enc.durations, enc.frames, torch.full((2,), 0.667), x["z_noise"])
    ep = torch.export.export(Stage2(tiny), args)
    out = ep.module()(*args)
    assert out.shape == (2, 64 * TINY.hop_length)
    nodes = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
    assert not any("repeat_interleave" in n or "_local_scalar_dense" in n or "nonzero" in n for n in nodes)


def test_padding_and_batching_do_not_change_audio(tiny: Vits) -> None:
    lengths = [5, 11, 9]
    width, frames = 24, 96
    batch = _inputs(lengths, width, frames)
    with torch.no_grad():
        enc = tiny.encode(batch["ids"], batch["lengths"], batch["noise_w"], batch["length_scale"], batch["dur_noise"])
        audio = tiny.decode(enc, torch.full((3,), 0.667), batch["z_noise"])
        n_frames = enc.frames.tolist()
        assert max(n_frames) <= frames
        for i, n in enumerate(lengths):
            ids = batch["ids"][i : i + 1, :n]
            f = n_frames[i]
            e1 = tiny.encode(ids, torch.tensor([n]), torch.full((1,), 0.8), torch.ones(1),
                             duration_noise(10 + i, n, n).unsqueeze(0))
            assert e1.frames.tolist() == [f]
            single = tiny.decode(e1, torch.full((1,), 0.667), latent_noise(10 + i, f, TINY.inter_channels, f).unsqueeze(0))
            padded = audio[i, : f * TINY.hop_length]
            assert single.shape[1] == padded.shape[0]
            assert torch.max(torch.abs(single[0] - padded)).item() <= 1e-5


def test_inverse_spline_is_identity_outside_tails_and_monotonic() -> None:
    gen = torch.Generator().manual_seed(1)
    w, h, d = (torch.randn(1, 9, n, generator=gen) for n in (10, 10, 9))
    y = torch.linspace(-6, 6, 9).view(1, 9)
    y_sorted = torch.linspace(-4.9, 4.9, 9).view(1, 9)
    out = inverse_spline(y, w, h, d, 5.0)
    assert torch.equal(out[0, 0], y[0, 0]) and torch.equal(out[0, -1], y[0, -1])
    same = inverse_spline(y_sorted, w[:, :1].expand(1, 9, 10), h[:, :1].expand(1, 9, 10), d[:, :1].expand(1, 9, 9), 5.0)
    assert torch.all(same[0, 1:] > same[0, :-1]), "the inverse of a monotonic spline must be monotonic"
    assert torch.isfinite(out).all()
