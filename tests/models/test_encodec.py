"""The Encodec codec: parity with Meta's and transformers' decoders and Meta's codes on the committed fixtures,
streamed == whole, batched == single, and clear errors for bad codes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from encodec_cases import HF, META, N_Q, SNR_MIN_DB, reference, snr_db

from sonorant.errors import ConfigError
from sonorant.models.base import CodecSpec
from sonorant.models.encodec import EncodecCodec, EncodecConfig
from sonorant.voices.encodec import load_codec

HOP = 320
STREAM_TOL = 1e-5
"""Largest allowed |streamed or batched audio - whole single decode| (the tiny model's audio: rms ~0.1, peak
~0.9; measured here: up to 8e-7, float rounding of differently shaped products)."""


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    return reference()


@pytest.fixture(scope="module")
def codec() -> EncodecCodec:
    return load_codec(META, codebooks=N_Q)


def _decode(codec: EncodecCodec, codes: np.ndarray | torch.Tensor, lengths: list[int] | None = None) -> np.ndarray:
    codes = torch.as_tensor(codes)
    with torch.no_grad():
        out = codec.decode(codes, None if lengths is None else torch.tensor(lengths))
    return out.numpy()


def test_default_config_is_meta_24khz() -> None:
    cfg = EncodecConfig()
    assert (cfg.hop, cfg.frame_rate, cfg.n_q, cfg.bins, cfg.dimension) == (320, 75, 32, 1024, 128)
    assert [cfg.codebooks_for(bw) for bw in (1.5, 3.0, 6.0, 12.0, 24.0)] == [2, 4, 8, 16, 32]
    codec = EncodecCodec(cfg)
    assert codec.spec == CodecSpec(name="encodec_24khz", sample_rate=24_000, hop=320, codebooks=2, bins=1024,
                                   channels=128, lookahead=0)
    assert codec.start_frames == 7  # the first convolution's reflect padding (kernel 7) reaches 6 frames ahead
    # Meta's encodec_model_24khz(pretrained=False): 14,851,810 parameters, 4,993 of them weight-norm gains
    # (folded here); its 32 codebooks are buffers (its state dict: 23.27 M numbers with embed_avg and counts)
    assert sum(p.numel() for p in codec.parameters()) == 14_851_810 - 4_993
    assert codec.quantizer.codebooks.shape == (32, 1024, 128)


@pytest.mark.parametrize("impl", ["meta", "hf"])
def test_decode_parity_with_upstream(ref: dict[str, np.ndarray], impl: str) -> None:
    codec = load_codec(META if impl == "meta" else HF, codebooks=N_Q)
    lengths = ref["lengths"].tolist()
    assert lengths == [37, 20, 5, 1]  # two rows shorter than the 7 frames the reflect padding reaches
    for i, n in enumerate(lengths):
        audio = _decode(codec, ref["codes"][i : i + 1, :, :n])[0]
        expected = ref[f"{impl}_audio_{i}"]
        assert audio.shape == expected.shape == (n * HOP,)
        assert snr_db(expected, audio) >= SNR_MIN_DB, (i, snr_db(expected, audio))
    # the threshold means something: one changed code in the last codebook is far below it
    codes = torch.from_numpy(ref["codes"][:1].copy())
    codes[0, N_Q - 1, 10] = (codes[0, N_Q - 1, 10] + 1) % 1024
    assert snr_db(ref[f"{impl}_audio_0"], _decode(codec, codes)[0]) < 30.0
    two = load_codec(META if impl == "meta" else HF)  # 1.5 kbps: 2 codebooks
    assert two.spec.codebooks == 2
    audio = _decode(two, ref["codes_k2"])
    assert audio.shape == ref[f"{impl}_audio_k2"].shape == (2, 23 * HOP)
    assert snr_db(ref[f"{impl}_audio_k2"], audio) >= SNR_MIN_DB


def test_padded_batch_equals_single_rows(codec: EncodecCodec, ref: dict[str, np.ndarray]) -> None:
    codes, lengths = torch.from_numpy(ref["codes"]), ref["lengths"].tolist()
    batch = _decode(codec, codes, lengths)
    assert batch.shape == (4, 37 * HOP)
    # upstream decodes the padded batch without lengths; without lengths sonorant matches it too
    assert snr_db(ref["meta_batch_audio"], _decode(codec, codes)) >= SNR_MIN_DB
    other = codes.clone()
    for i, n in enumerate(lengths):
        other[i, :, n:] = 1025  # out-of-range padding (a token model's EOS) must change nothing
    again = _decode(codec, other, lengths)
    for i, n in enumerate(lengths):
        single = _decode(codec, codes[i : i + 1, :, :n])[0]
        assert np.abs(batch[i, : n * HOP] - single).max() <= STREAM_TOL, i
        assert snr_db(ref[f"meta_audio_{i}"], batch[i, : n * HOP]) >= SNR_MIN_DB
        assert not batch[i, n * HOP :].any() and not again[i, n * HOP :].any()
        assert np.array_equal(batch[i], again[i])


def _stream(codec: EncodecCodec, codes: torch.Tensor, sizes: list[int]) -> tuple[np.ndarray, list[int]]:
    """Decode `codes` in chunks of `sizes` frames; (the audio, frames of audio each chunk gave)."""
    state = codec.stream_state(codes.shape[0])
    outs, got, pos = [], [], 0
    with torch.no_grad():
        for k, n in enumerate(sizes):
            audio, state = codec.decode_stream(codes[:, :, pos : pos + n], state, last=k == len(sizes) - 1)
            assert audio.shape[0] == codes.shape[0] and audio.shape[1] % HOP == 0
            outs.append(audio.numpy())
            got.append(audio.shape[1] // HOP)
            pos += n
    assert pos == codes.shape[-1] and state.done
    return np.concatenate(outs, axis=1), got


def test_stream_equals_whole(codec: EncodecCodec, ref: dict[str, np.ndarray]) -> None:
    codes = torch.from_numpy(ref["codes"][:2])  # batch 2, 37 frames
    whole = _decode(codec, codes)
    rng = np.random.default_rng(0)
    plans = [[1] * 37, [37], [3, 4, 30], [7, 1, 0, 29]]
    for _ in range(3):
        sizes, left = [], 37
        while left:
            sizes.append(int(min(left, rng.choice([0, 1, 1, 2, 3, 5, 8, 13]))))
            left -= sizes[-1]
        plans.append(sizes)
    for sizes in plans:
        audio, got = _stream(codec, codes, sizes)
        assert audio.shape == whole.shape
        assert np.abs(audio - whole).max() <= STREAM_TOL, sizes
        assert min(snr_db(whole[i], audio[i]) for i in range(2)) >= SNR_MIN_DB
        taken = np.cumsum(sizes)
        # no audio before 7 frames; from then on every frame's audio comes with its chunk
        assert all(g == 0 for g, t in zip(got, taken) if t < codec.start_frames), (sizes, got)
        assert np.array_equal(np.cumsum(got)[taken >= codec.start_frames],
                              taken[taken >= codec.start_frames]), (sizes, got)


def test_short_stream_equals_whole(codec: EncodecCodec, ref: dict[str, np.ndarray]) -> None:
    """Streams that end before the reflect padding's 7 frames: audio comes with the last chunk, and equals
    upstream's decode of the short sequence (which pads its first convolution with zeros)."""
    codes = torch.from_numpy(ref["codes"])
    for row, n in ((2, 5), (3, 1)):
        audio, got = _stream(codec, codes[row : row + 1, :, :n], [1] * n)
        assert got == [0] * (n - 1) + [n]
        assert snr_db(ref[f"meta_audio_{row}"], audio[0]) >= SNR_MIN_DB
    state = codec.stream_state(1)
    audio, state = codec.decode_stream(codes[:1, :, :0], state, last=True)  # an empty stream
    assert audio.shape == (1, 0) and state.done
    with pytest.raises(ConfigError, match="ended"):
        codec.decode_stream(codes[:1, :, :1], state, last=True)


def test_encode_gives_meta_codes(ref: dict[str, np.ndarray]) -> None:
    codecs = {2: load_codec(META), 4: load_codec(HF, bandwidth=3.0)}
    assert codecs[4].spec.codebooks == 4
    for name in ("chirp", "chirp_odd"):
        audio = torch.from_numpy(ref[name])  # [1, n]
        with torch.no_grad():
            emb = codecs[2].encoder(audio[:, None])
            expected = ref[f"{name}_emb"]  # the encoder's output: values up to ~50 here
            assert np.abs(emb.numpy() - expected).max() <= 1e-6 * np.abs(expected).max()
            for k, tag in ((2, "bw1_5"), (4, "bw3")):
                codes = codecs[k].encode(audio).numpy()
                assert codes.shape == ref[f"{name}_codes_{tag}"].shape == (1, k, -(-audio.shape[1] // HOP))
                assert np.array_equal(codes, ref[f"{name}_codes_{tag}"]), (name, k)
    # a padded batch with lengths: each row as alone
    a, b = torch.from_numpy(ref["chirp"]), torch.from_numpy(ref["chirp_odd"])
    batch = torch.zeros(2, a.shape[1])
    batch[0], batch[1, : b.shape[1]] = a[0], b[0]
    with torch.no_grad():
        codes = codecs[4].encode(batch, torch.tensor([a.shape[1], b.shape[1]])).numpy()
    n_odd = ref["chirp_odd_codes_bw3"].shape[-1]
    assert np.array_equal(codes[0], ref["chirp_codes_bw3"][0])
    assert np.array_equal(codes[1, :, :n_odd], ref["chirp_odd_codes_bw3"][0]) and not codes[1, :, n_odd:].any()


def test_bad_codes_are_clear_errors(codec: EncodecCodec) -> None:
    good = torch.zeros(2, N_Q, 5, dtype=torch.int64)
    cases = [
        (good.float(), "integer"),
        (good[:, :2], f"{N_Q} codebooks"),
        (good[0], f"{N_Q} codebooks"),
        (good[:, :, :0], "frames >= 1"),
    ]
    for codes, match in cases:
        with pytest.raises(ConfigError, match=match):
            codec.decode(codes)
    for value in (-1, 1024):
        bad = good.clone()
        bad[1, 2, 3] = value
        with pytest.raises(ConfigError, match=rf"code {value} \(row 1, codebook 2, frame 3\) is outside \[0, 1024\)"):
            codec.decode(bad)
        codec.decode(bad, torch.tensor([5, 3]))  # past row 1's length: padding, not checked
    for lengths, match in ((torch.tensor([5, 0]), r"lengths\[1\] = 0"), (torch.tensor([6, 5]), r"lengths\[0\] = 6"),
                           (torch.tensor([5]), "lengths must be"), (torch.tensor([5.0, 5.0]), "lengths must be")):
        with pytest.raises(ConfigError, match=match):
            codec.decode(good, lengths)
    state = codec.stream_state(2)
    for chunk in (good[:1], good[:, :2, :0]):
        with pytest.raises(ConfigError, match="a chunk must be"):
            codec.decode_stream(chunk, state, last=False)
    with pytest.raises(ConfigError, match="outside"):
        codec.decode_stream(good + 2000, state, last=False)
    with pytest.raises(ConfigError, match="codebooks must be in"):
        EncodecCodec(EncodecConfig(n_q=4), codebooks=5)
    with pytest.raises(ConfigError, match="needs 8 codebooks"):
        EncodecCodec(EncodecConfig(n_q=4), bandwidth=6.0)
    with pytest.raises(ConfigError, match="mono"):
        codec.encode(torch.zeros(1, 2, 100))
