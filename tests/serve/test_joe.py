"""The real voice through the server: streamed audio arrives while the rest is still being synthesized."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
from serve_support import Running, start_server, wait_done

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
    with joe_server.client().audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=text, response_format="pcm", extra_body={"seed": 5}
    ) as response:
        request_id = int(response.headers["x-sonorant-request"])
        chunks = []
        for chunk in response.iter_bytes():
            if not chunks:
                first_at = time.monotonic()
            chunks.append(chunk)
    ticket = wait_done(joe_server.observer, request_id)
    # the same clock on both sides: the server runs on a thread of this process
    assert ticket.status == "done" and first_at < ticket.finished
    assert len(chunks) > 3
    got = np.frombuffer(b"".join(chunks), "<i2").astype(np.int32)
    ref = to_int16(joe.synthesize(text, sonorant.SynthesisConfig(seed=5)).samples).astype(np.int32)
    assert len(got) == len(ref) and int(np.max(np.abs(got - ref))) <= 1
