"""The real voice through the server: streamed audio arrives while the rest is still being synthesized."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
from serve_support import Running, start_server, stream_pcm, wait_done

import sonorant
from sonorant.audio import to_int16
from sonorant.serve import ServeConfig


@pytest.fixture(scope="module")
def joe_server(joe: sonorant.Voice) -> Iterator[Running]:
    running = start_server([joe], ServeConfig())
    yield running
    running.server.stop()


def test_joe_stream_starts_before_synthesis_ends(joe_server: Running, joe: sonorant.Voice) -> None:
    text = ("The first audio should reach the client long before the end. This request has three sentences. "
            "The last one is here, so there is plenty left to synthesize.")
    request_id, chunks, first_at = stream_pcm(joe_server, text, 5)
    ticket = wait_done(joe_server.observer, request_id)
    # the same clock on both sides: the server runs on a thread of this process
    assert ticket.status == "done" and first_at < ticket.finished
    assert len(chunks) > 3
    got = np.frombuffer(b"".join(chunks), "<i2").astype(np.int32)
    ref = to_int16(joe.synthesize(text, sonorant.SynthesisConfig(seed=5)).samples).astype(np.int32)
    assert len(got) == len(ref) and int(np.max(np.abs(got - ref))) <= 1


def test_the_library_aliases_name_the_voice(joe_server: Running) -> None:
    """`sonorant.load_voice("en_US-joe-medium")` is joe; so is a request for that voice."""
    with joe_server.client().audio.speech.with_streaming_response.create(
        model="tts-1", voice="en_US-joe-medium", input="Hi.", response_format="pcm"
    ) as response:
        assert response.headers["x-sonorant-voice"] == "joe" and response.read()
    listed = joe_server.client().get("/voices", cast_to=object)
    assert "en_US-joe-medium" in listed["data"][0]["aliases"]


def test_joe_default_mp3_starts_long_before_it_ends(joe_server: Running) -> None:
    """The OpenAI client's defaults (mp3, no stream_format): the first body bytes of a long text come
    after a small part of the time the whole body takes (timed against the whole, so a slow machine
    only stretches both)."""
    text = " ".join(f"This is sentence number {w} of a long answer, read aloud one after the other."
                    for w in ("one", "two", "three", "four", "five", "six", "seven", "eight"))
    started = time.monotonic()
    first = last = None
    with joe_server.client().audio.speech.with_streaming_response.create(model="tts-1", voice="alloy",
                                                                         input=text) as response:
        for _ in response.iter_bytes():
            first = first or time.monotonic()
        last = time.monotonic()
    assert first is not None
    assert first - started < 0.5 * (last - started), (first - started, last - started)
