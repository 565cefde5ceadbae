"""The response encoders: what the server advertises it can encode, and streamed MP3's frames."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
import soundfile as sf

from sonorant.serve import encode
from sonorant.serve.encode import FORMATS, available_formats, mpeg_frame_size, stream_encoder


@pytest.fixture
def fresh_probe():  # noqa: ANN201
    """`available_formats` probes again (its cache is cleared before and after)."""
    encode._encodes.cache_clear()
    yield
    encode._encodes.cache_clear()


def test_the_declared_dependencies_encode_every_format(fresh_probe) -> None:  # noqa: ANN001
    """soundfile (its bundled libsndfile) and scipy are enough for every format, at Piper's sample rates."""
    assert available_formats((16000, 22050, 24000, 44100, 48000)) == list(FORMATS)


def test_a_format_whose_library_is_missing_is_not_advertised(fresh_probe, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """Opus at 22050 Hz needs resampling (scipy): without scipy it is left out, the others stay."""
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.signal", None)
    assert available_formats((22050,)) == [f for f in FORMATS if f != "opus"]


@pytest.mark.parametrize("rate", [16000, 22050, 48000])
def test_streamed_mp3_is_whole_constant_bitrate_frames(rate: int) -> None:
    """Walking the stream frame by frame from its first byte lands exactly on its end; every frame has
    the same bitrate and none is the empty frame libsndfile keeps for a LAME header."""
    rng = np.random.default_rng(rate)
    audio = (0.2 * rng.standard_normal(rate * 3)).astype(np.float32)
    encoder = stream_encoder("mp3", rate)
    pieces = [encoder.feed(audio[i : i + 4000]) for i in range(0, len(audio), 4000)]
    data = b"".join(pieces) + encoder.finish()
    assert sum(map(len, pieces[:3])) > 0, "nothing came out while the audio was arriving"
    offset, bitrates, frames = 0, set(), 0
    while offset < len(data):
        size = mpeg_frame_size(data[offset : offset + 4])
        assert size is not None, f"no MPEG frame at byte {offset}"
        assert any(data[offset + 4 : offset + size]), "an empty frame"
        bitrates.add((data[offset + 2] >> 4) & 15)
        offset += size
        frames += 1
    assert offset == len(data) and len(bitrates) == 1
    spf = 1152 if rate >= 32000 else 576
    decoded, decoded_rate = sf.read(io.BytesIO(data), dtype="float32")
    assert decoded_rate == rate and len(decoded) == frames * spf


@pytest.mark.parametrize("header, size", [(b"\xff\xfb\x90\x64", 417), (b"\xff\xf3\x80\xc4", 208),
                                          (b"\xff\xfb\x92\x64", 418), (b"ID3\x04", None), (b"\xff\xfb\xf0\x64", None)])
def test_mpeg_frame_size(header: bytes, size: int | None) -> None:
    """MPEG-1 128 kbit/s 44.1 kHz frames are 417 bytes (418 padded); MPEG-2 64 kbit/s 22.05 kHz, 208."""
    assert mpeg_frame_size(header) == size
