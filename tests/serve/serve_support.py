"""Helpers of the server tests: a server on a free loopback port (uvicorn on a thread of the test
process) whose scheduler reports to an observer the tests can read and use to hold the worker."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable

import numpy as np
import openai
import soundfile as sf

import sonorant
from sonorant.engine.scheduler import Ticket
from sonorant.serve import ServeConfig, ServerMetrics, SpeechServer, SpeechService

API_KEY = "test-key"
MAX_CHARS = 300
MAX_PHONEME_IDS = 2000
"""The test server's phoneme limit: above any test's English text (300 characters read as ~750 ids),
below 300 characters of digits."""


def expected_audio(voice: sonorant.Voice, text: str, seed: int, speed: float = 1.0) -> np.ndarray:
    """What the library synthesizes for `text` (float samples)."""
    cfg = sonorant.SynthesisConfig(seed=seed, speed=speed)
    return voice.synthesize(text, cfg).samples


def decode(fmt: str, data: bytes) -> tuple[np.ndarray, int | None]:
    """16-bit samples (as int32) and the sample rate (None for raw pcm). FLAC goes through FFmpeg (PyAV):
    libsndfile cannot read a FLAC stream whose header leaves the length unknown, as a streamed one does."""
    if fmt == "pcm":
        return np.frombuffer(data, "<i2").astype(np.int32), None
    if fmt == "flac":
        import av

        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.audio[0]
            rate = stream.rate
            parts = [frame.to_ndarray().reshape(-1) for frame in container.decode(stream)]
        samples = np.concatenate(parts)
        assert samples.dtype == np.int16, samples.dtype
        return samples.astype(np.int32), rate
    samples, rate = sf.read(io.BytesIO(data), dtype="int16")
    return samples.astype(np.int32), rate


class GateObserver:
    """The server's metrics observer plus what tests need: every ticket by id, and optional gates that
    hold the scheduler's worker at a chosen point (a test releases them; they time out after 30 s)."""

    def __init__(self, metrics: ServerMetrics) -> None:
        self.metrics = metrics
        self.tickets: dict[int, Ticket] = {}
        self.batches: list[tuple[str, int, int]] = []
        self.frames: list[tuple[str, int]] = []
        """(stage, frames) of each pass (a token loop's frames are its tokens)."""
        self.piece_gate: Callable[[Ticket, int], None] | None = None
        self.batch_gate: threading.Event | None = None
        self.lock = threading.Lock()

    def on_batch(self, stage: str, rows: int, requests: int, frames: int, seconds: float) -> None:
        self.metrics.on_batch(stage, rows, requests, frames, seconds)
        with self.lock:
            self.batches.append((stage, rows, requests))
            self.frames.append((stage, frames))
        gate = self.batch_gate
        if gate is not None:
            gate.wait(30)

    def on_piece(self, ticket: Ticket, index: int, samples: int) -> None:
        self.tickets[ticket.id] = ticket
        gate = self.piece_gate
        if gate is not None:
            gate(ticket, index)

    def on_finish(self, ticket: Ticket) -> None:
        self.tickets[ticket.id] = ticket
        self.metrics.on_finish(ticket)


def wait_done(observer: GateObserver, request_id: int, timeout: float = 30.0) -> Ticket:
    """The request's ticket once the scheduler has ended it (the client may read the last byte first)."""
    deadline = time.monotonic() + timeout
    while True:
        ticket = observer.tickets.get(request_id)
        if ticket is not None and ticket.done:
            return ticket
        if time.monotonic() > deadline:
            raise TimeoutError(f"request {request_id} did not end within {timeout} s: {ticket}")
        time.sleep(0.005)


class Running:
    """A started server and what tests use to talk to it."""

    def __init__(self, server: SpeechServer, observer: GateObserver, voice: sonorant.Voice) -> None:
        self.server = server
        self.service = server.service
        self.observer = observer
        self.voice = voice
        self.url = server.url

    def client(self, api_key: str = API_KEY, timeout: float = 120.0) -> openai.OpenAI:
        """The official OpenAI client pointed at this server (no retries, so status codes show)."""
        return openai.OpenAI(base_url=self.url + "/v1", api_key=api_key, max_retries=0, timeout=timeout)


def start_server(voices: list[sonorant.Voice], config: ServeConfig, wyoming: str | None = None) -> Running:
    """A server on a free loopback port whose schedulers report to a GateObserver."""
    service = SpeechService(voices, config)
    observer = GateObserver(service.metrics)
    service.observe(observer)
    server = SpeechServer(service, "127.0.0.1", 0, wyoming=wyoming).start()
    return Running(server, observer, voices[0])


def stream_pcm(running: Running, text: str, seed: int,
               on_first: Callable[[], None] | None = None) -> tuple[int, list[bytes], float]:
    """Stream `text` as pcm through the official client: (request id, the byte chunks as they came,
    the monotonic time the first one arrived). `on_first` runs as soon as the first chunk is in."""
    first_at = float("nan")
    chunks: list[bytes] = []
    with running.client().audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=text, response_format="pcm", extra_body={"seed": seed}
    ) as response:
        request_id = int(response.headers["x-sonorant-request"])
        for chunk in response.iter_bytes():
            if not chunks:
                first_at = time.monotonic()
                if on_first is not None:
                    on_first()
            chunks.append(chunk)
    return request_id, chunks, first_at
