"""The real voice through the server: streamed audio arrives while the rest is still being synthesized."""

from __future__ import annotations

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
