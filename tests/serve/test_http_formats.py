"""Response formats over HTTP: every format streams by default (as OpenAI's API does) and decodes to the
synthesized audio; `"stream": false` gives the whole file with exact headers."""

from __future__ import annotations

import threading

import httpx
import numpy as np
import pytest
from serve_support import API_KEY, Running, decode, expected_audio, wait_done

from sonorant.audio import opus_rate, to_int16

TEXT = "Hello there. The server speaks two sentences."
ALL_FORMATS = ["mp3", "opus", "flac", "wav", "pcm"]
MP3_ENCODER_DELAY = 576
"""LAME's encoder delay, in samples (what a LAME header tells decoders to drop)."""
MP3_DECODER_DELAY = 529
"""The layer III decoder's own delay (mpg123 and FFmpeg drop it only with a LAME header)."""


def _create(server: Running, fmt: str, seed: int, **extra: object):  # noqa: ANN202
    return server.client().audio.speech.create(model="tts-1", voice="alloy", input=TEXT, response_format=fmt,
                                               extra_body={"seed": seed, **extra})


def test_every_format_is_advertised(server: Running) -> None:
    """The declared dependencies (soundfile's libsndfile, scipy) encode every format sonorant has."""
    voices = httpx.get(server.url + "/v1/voices", headers={"Authorization": f"Bearer {API_KEY}"}).json()
    assert sorted(voices["formats"]) == sorted(ALL_FORMATS)


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
@pytest.mark.parametrize("fmt", ["wav", "pcm", "flac"])
def test_lossless_formats_decode_to_the_synthesized_audio(server: Running, fmt: str, stream: bool) -> None:
    ref = to_int16(expected_audio(server.voice, TEXT, seed=11)).astype(np.int32)
    response = _create(server, fmt, 11, **({} if stream else {"stream": False}))
    headers = response.response.headers
    if stream:
        assert headers.get("transfer-encoding") == "chunked" and "content-length" not in headers
    else:
        assert int(headers["content-length"]) == len(response.content)
    samples, rate = decode(fmt, response.content)
    assert rate in (None, server.voice.sample_rate)
    assert len(samples) == len(ref)
    assert int(np.max(np.abs(samples - ref))) <= 1


@pytest.mark.parametrize("fmt", ["mp3", "opus"])
def test_whole_lossy_files_have_the_exact_length(server: Running, fmt: str) -> None:
    ref = expected_audio(server.voice, TEXT, seed=12)
    samples, rate = decode(fmt, _create(server, fmt, 12, stream=False).content)
    sr = server.voice.sample_rate
    assert rate == (opus_rate(sr) if fmt == "opus" else sr)
    assert abs(len(samples) / rate - len(ref) / sr) < 0.01


@pytest.mark.parametrize("stream_format", [None, "audio"])
def test_streamed_opus_has_the_exact_length(server: Running, stream_format: str | None) -> None:
    extra = {"stream_format": stream_format} if stream_format else {}
    samples, rate = decode("opus", _create(server, "opus", 16, **extra).content)
    ref = expected_audio(server.voice, TEXT, seed=16)
    assert rate == opus_rate(server.voice.sample_rate)
    assert abs(len(samples) / rate - len(ref) / server.voice.sample_rate) < 0.01


def test_streamed_mp3_is_the_audio_after_the_codec_delay(server: Running) -> None:
    """A streamed MP3 cannot start with a gapless header (the length is not known yet): decoders keep the
    codec's delay in front and pad the end to a whole frame. The audio itself is all there, in place."""
    ref = expected_audio(server.voice, TEXT, seed=17)
    samples, rate = decode("mp3", _create(server, "mp3", 17).content)  # libsndfile (mpg123), as a Python client would
    sr = server.voice.sample_rate
    frame = 1152 if sr >= 32000 else 576
    delay = MP3_ENCODER_DELAY + MP3_DECODER_DELAY
    assert rate == sr
    assert delay + len(ref) <= len(samples) <= delay + len(ref) + 2 * frame
    got = samples.astype(np.float64) / 32768
    window = ref[: min(len(ref), 2 * sr)].astype(np.float64)
    scores = [float(np.dot(got[lag : lag + len(window)], window)) for lag in range(0, 2 * delay)]
    assert int(np.argmax(scores)) == delay
    assert np.corrcoef(got[delay : delay + len(ref)], ref)[0, 1] > 0.8  # 0.95 measured (64 kbit/s, a noisy voice)


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_default_responses_stream_before_synthesis_ends(server: Running, fmt: str) -> None:
    """With the client's defaults (no stream_format), the worker is held after the request's first piece
    until the client has read body bytes: a response sent only when complete would never get there."""
    text = "One sentence first. A second one follows. And a third, to make the stream longer."
    client_has_bytes = threading.Event()
    held: dict[int, bool] = {}

    def gate(ticket, index: int) -> None:  # noqa: ANN001
        if index == 0:
            held[ticket.id] = client_has_bytes.wait(10)

    server.observer.piece_gate = gate
    try:
        with server.client().audio.speech.with_streaming_response.create(
            model="tts-1", voice="alloy", input=text, response_format=fmt, extra_body={"seed": 18}
        ) as response:
            request_id = int(response.headers["x-sonorant-request"])
            body = b""
            for chunk in response.iter_bytes():
                client_has_bytes.set()
                body += chunk
    finally:
        server.observer.piece_gate = None
    ticket = wait_done(server.observer, request_id)
    assert held == {request_id: True}, "no body bytes reached the client while synthesis was held"
    assert ticket.status == "done" and ticket.pieces > 1
    samples, rate = decode(fmt, body)  # and the whole audio is there
    sr = server.voice.sample_rate
    assert len(samples) / (rate or sr) > 0.99 * len(expected_audio(server.voice, text, seed=18)) / sr


def test_stream_false_with_a_stream_format_is_422(server: Running) -> None:
    r = httpx.post(server.url + "/v1/audio/speech", timeout=30, headers={"Authorization": f"Bearer {API_KEY}"},
                   json={"input": "Hi.", "voice": "alloy", "stream": False, "stream_format": "sse"})
    assert r.status_code == 422 and "stream_format" in r.json()["error"]["message"]
