"""Token voices served: the tiny toktts checkpoint (tests/fixtures/toktts) speaking through the tiny Encodec
(tests/fixtures/encodec), over HTTP and Wyoming beside a stage-graph voice, and through `SpeechService`.

The checkpoint is random: greedy decoding ends "Hello friend." in 35 tokens, "Good day." in 37, "Come here."
in 5 and FAMILY in 241, while "Yes." never ends within 300 (its bound), which the tests use for the errors.
Encodec makes one frame of 2 tokens (320 samples); the decoder reads its tokens back every 8 steps; a streamed
sentence's chunks are 16 frames, then 32, 64, ... (`StreamConfig`), so its first piece needs 32 tokens.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from serve_support import API_KEY, Running, decode, start_server, wait_done
from wyoming.error import Error
from wyoming.tts import Synthesize, SynthesizeVoice

import sonorant
from sonorant import SynthesisConfig
from sonorant.audio import to_int16
from sonorant.engine.scheduler import Piece, Ticket
from sonorant.errors import DecodeLimitError
from sonorant.serve import ServeConfig, SpeechService
from sonorant.serve.service import SpeechStream

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
THREE = "Hello friend. Good day. Come here."
FAMILY = "The family would enjoy your visit."
"""One sentence of 241 tokens = 120 frames: streamed, chunks of 16, 32, 64 and 8 frames."""
HOP = 320
SAMPLED = {"decoding": "sample", "temperature": 0.5, "seed": 3, "max_tokens": 100}
"""Sampling settings under which every sentence of THREE ends (in 38, 9 and 4 tokens)."""


def _load() -> sonorant.Voice:
    model, codec = FIXTURES / "toktts" / "model", FIXTURES / "encodec" / "encodec_tiny.th"
    assert model.is_dir() and codec.is_file(), "missing committed fixtures (tools/toktts_fixtures.py)"
    return sonorant.load_voice(model, codec=codec)


@pytest.fixture(scope="module")
def token_voice() -> sonorant.Voice:
    return _load()


@pytest.fixture(scope="module")
def tok_server(token_voice: sonorant.Voice, steady_voice: sonorant.Voice) -> Iterator[Running]:
    """The token voice (the default: OpenAI's voice names mean it) beside the tiny VITS voice, two rows per
    loop, Wyoming on."""
    config = ServeConfig(api_key=API_KEY, max_batch=2, batch_wait_ms=20.0, max_step_ms=10_000)
    running = start_server([token_voice, steady_voice], config, wyoming="tcp://127.0.0.1:0")
    yield running
    running.server.stop()


def _post(server: Running, **body: object) -> httpx.Response:
    return httpx.post(server.url + "/v1/audio/speech", json={"voice": "alloy", **body}, headers=AUTH, timeout=120)


def _int16(samples: np.ndarray) -> np.ndarray:
    return to_int16(samples).astype(np.int32)


def _close(got: np.ndarray, ref: np.ndarray) -> None:
    """16-bit audio from the server against the library's float samples: same length, within one step."""
    assert len(got) == len(ref) and int(np.max(np.abs(got - _int16(ref)))) <= 1


def _speak(service: SpeechService, jobs: list[tuple[str, SynthesisConfig, bool]],
           queued: Callable[[], None] | None = None) -> list[list[Piece] | Exception]:
    """Queue `jobs` (text, settings, streaming) in order through a started service, call `queued`, then read
    them all concurrently: each one's pieces, or the error that ended it."""
    async def read(stream: SpeechStream) -> list[Piece] | Exception:
        try:
            return [piece async for piece in stream]
        except DecodeLimitError as exc:
            return exc

    async def main() -> list[list[Piece] | Exception]:
        streams = [await service.speak(service.default_voice, text, cfg, streaming=streaming)
                   for text, cfg, streaming in jobs]
        if queued is not None:
            queued()
        return list(await asyncio.gather(*(read(stream) for stream in streams)))

    return asyncio.run(main())


# ---- SpeechService: the samples themselves --------------------------------------------------------------


@pytest.mark.parametrize("streaming", [False, True])
def test_service_pieces_equal_synthesize(token_voice: sonorant.Voice, streaming: bool) -> None:
    """Whole file: one piece per sentence with its silence appended. Streamed: each sentence in chunks (17 and
    18 frames: 16 + 1, 16 + 2; "Come here." 2), its silence after its last chunk (none after the last sentence). Joined, in order, both are
    synthesize's samples (1e-5)."""
    cfg = SynthesisConfig(seed=5, sentence_silence=0.1)
    ref = token_voice.synthesize(THREE, cfg).samples
    service = SpeechService([token_voice], ServeConfig(max_batch=2))
    service.start()
    try:
        [pieces] = _speak(service, [(THREE, cfg, streaming)])
    finally:
        service.close()
    audio = np.concatenate([p.samples for p in pieces])
    assert len(audio) == len(ref) and float(np.max(np.abs(audio - ref))) < 1e-5
    gap = round(0.1 * token_voice.sample_rate)
    if not streaming:
        assert [(p.sentence, p.is_last) for p in pieces] == [(0, False), (1, False), (2, True)]
        assert not pieces[0].samples[-gap:].any() and pieces[2].samples[-gap:].any()
        return
    assert [(p.sentence, p.is_last) for p in pieces] == [(0, False), (0, False), (1, False), (1, False), (2, True)]
    assert [len(p.samples) for p in pieces] == [16 * HOP, HOP + gap, 16 * HOP, 2 * HOP + gap, 2 * HOP]
    assert not pieces[1].samples[-gap:].any() and pieces[2].samples.any()


class Recorder:
    """A scheduler observer that records the passes (stage, rows, requests) and the pieces (request id);
    with `hold`, the worker waits after its first pass until `release` is set."""

    def __init__(self, hold: bool = False) -> None:
        self.batches: list[tuple[str, int, int]] = []
        self.pieces: list[int] = []
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def on_batch(self, stage: str, rows: int, requests: int, frames: int, seconds: float) -> None:
        self.batches.append((stage, rows, requests))
        assert self.release.wait(30), "the worker was held for 30 s"

    def on_piece(self, ticket: Ticket, index: int, samples: int) -> None:
        self.pieces.append(ticket.id)

    def on_finish(self, ticket: Ticket) -> None:
        pass


def _recorded(voice: sonorant.Voice, config: ServeConfig, jobs: list[tuple[str, SynthesisConfig, bool]],
              hold: bool = False) -> tuple[list[list[Piece] | Exception], Recorder]:
    """`_speak` on a new service whose passes a `Recorder` records (`hold`: the first pass is held until
    every job is queued)."""
    service = SpeechService([voice], config)
    recorder = Recorder(hold)
    service.observe(recorder)
    service.start()
    try:
        return _speak(service, jobs, recorder.release.set), recorder
    finally:
        recorder.release.set()
        service.close()


def _spy_reads(voice: sonorant.Voice, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The tokens of each host read of the voice's watched decoding loops (all rows), as they happen."""
    runtime = voice.engine.runtime
    real = runtime.stream_tokens
    reads: list[int] = []

    def spy(*args: Any, **kwargs: Any) -> Iterator[list[np.ndarray]]:
        for new in real(*args, **kwargs):
            reads.append(sum(len(t) for t in new))
            yield new

    monkeypatch.setattr(runtime, "stream_tokens", spy)
    return reads


def test_a_streamed_sentence_plays_while_its_tokens_are_generated(token_voice: sonorant.Voice,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """One sentence of 241 tokens streams in 4 pieces (16, 32, 64, 8 frames); the first reaches the sink after
    the loop's 4th read (32 tokens), while 209 of its tokens are still to come; joined, synthesize's audio."""
    reads = _spy_reads(token_voice, monkeypatch)
    at_first_piece: list[int] = []

    class Watch(Recorder):
        def on_piece(self, ticket: Ticket, index: int, samples: int) -> None:
            super().on_piece(ticket, index, samples)
            if index == 0:
                at_first_piece.append(sum(reads))

    cfg = SynthesisConfig(seed=2)
    ref = token_voice.synthesize(FAMILY, cfg).samples
    service = SpeechService([token_voice], ServeConfig(max_batch=2))
    watch = Watch()
    service.observe(watch)
    service.start()
    try:
        [pieces] = _speak(service, [(FAMILY, cfg, True)])
    finally:
        service.close()
    assert [len(p.samples) for p in pieces] == [16 * HOP, 32 * HOP, 64 * HOP, 8 * HOP]
    assert [p.is_last for p in pieces] == [False, False, False, True]
    audio = np.concatenate([p.samples for p in pieces])
    assert len(audio) == len(ref) and float(np.max(np.abs(audio - ref))) < 1e-5
    assert at_first_piece == [32] and sum(reads) == 241 and len(reads) == 31  # 30 reads of 8 steps, then 1
    assert [b for b in watch.batches if b[0] == "tokens"] == [("tokens", 1, 1)]
    assert [b for b in watch.batches if b[0] == "vocode"] == [("vocode", 1, 1)] * 4  # a codec pass per chunk


def test_cancelling_mid_sentence_stops_the_decoding_loop(token_voice: sonorant.Voice,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """"Yes." would run to its bound (300 tokens). The worker is held after its first piece until the reader,
    which has that piece, cancels (as a client that leaves does): the loop stops at that read, 32 tokens in,
    and the next request ("Come here.", 5 tokens in one read) is served."""
    reads = _spy_reads(token_voice, monkeypatch)
    tokens: list[int] = []

    class Hold(Recorder):
        def on_batch(self, stage: str, rows: int, requests: int, frames: int, seconds: float) -> None:
            super().on_batch(stage, rows, requests, frames, seconds)
            if stage == "tokens":
                tokens.append(frames)

        def on_piece(self, ticket: Ticket, index: int, samples: int) -> None:
            super().on_piece(ticket, index, samples)
            deadline = time.monotonic() + 30
            while index == 0 and not ticket.cancelled and time.monotonic() < deadline:
                time.sleep(0.005)

    async def leave_after_first(service: SpeechService) -> tuple[Piece, Ticket]:
        stream = await service.speak(service.default_voice, "Yes.", SynthesisConfig(), streaming=True)
        first = await stream.next()
        stream.cancel()
        assert stream.ticket is not None
        return first, stream.ticket

    service = SpeechService([token_voice], ServeConfig(max_batch=2))
    service.observe(Hold())
    service.start()
    try:
        first, ticket = asyncio.run(leave_after_first(service))
        deadline = time.monotonic() + 30
        while not ticket.done and time.monotonic() < deadline:
            time.sleep(0.005)
        assert ticket.status == "cancelled" and ticket.pieces == 1 and len(first.samples) == 16 * HOP
        [after] = _speak(service, [("Come here.", SynthesisConfig(), True)])  # runs once the loop has ended
        deadline = time.monotonic() + 30  # the loop reports its pass after the request has its audio
        while len(tokens) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
    finally:
        service.close()
    assert reads == [8, 8, 8, 8, 5] and tokens == [32, 5]  # not 300: the loop was closed at its 4th read
    assert len(np.concatenate([p.samples for p in after])) == len(token_voice.synthesize("Come here.").samples)


def test_a_stuck_sentence_fails_only_its_own_request(token_voice: sonorant.Voice) -> None:
    """Two requests with the same bound share one loop; one sentence of the second never ends within it. The
    loop's rows are rerun one by one: the first request gets its audio, the second an error naming the
    sentence and the bound."""
    cfg = SynthesisConfig(max_tokens=20)
    config = ServeConfig(max_batch=2, batch_wait_ms=2000)  # the first step waits for both requests
    (ok, stuck), recorder = _recorded(token_voice, config, [("Come here.", cfg, False),
                                                            ("Hello friend. Come here.", cfg, False)])
    assert ("tokens", 2, 2) in recorder.batches, recorder.batches
    ref = token_voice.synthesize("Come here.", cfg).samples
    assert isinstance(ok, list) and float(np.max(np.abs(np.concatenate([p.samples for p in ok]) - ref))) < 1e-5
    assert isinstance(stuck, DecodeLimitError)
    assert "sentence 1 of 2 did not end within 20 tokens" in str(stuck) and "max_tokens" in str(stuck)


def test_a_stream_and_a_whole_file_request_share_a_streamed_loop(token_voice: sonorant.Voice) -> None:
    """After the stream's first sentence (alone: first audio goes ahead), the next loop takes the whole-file
    request's two sentences and the stream's second (one at a time: its pieces stay in order), the stream's
    row playing as its tokens arrive; both join to synthesize's audio."""
    config = ServeConfig(max_batch=4, batch_wait_ms=0)
    jobs = [(THREE, SynthesisConfig(seed=1), True), ("Good day. Come here.", SynthesisConfig(seed=2), False)]
    (streamed, whole), recorder = _recorded(token_voice, config, jobs, hold=True)
    tokens = [b for b in recorder.batches if b[0] == "tokens"]
    assert tokens == [("tokens", 1, 1), ("tokens", 3, 2), ("tokens", 1, 1)], recorder.batches
    for (text, cfg, _), pieces in zip(jobs, (streamed, whole)):
        assert isinstance(pieces, list)
        ref = token_voice.synthesize(text, cfg).samples
        audio = np.concatenate([p.samples for p in pieces])
        assert len(audio) == len(ref) and float(np.max(np.abs(audio - ref))) < 1e-5
    assert [p.sentence for p in streamed] == [0, 0, 1, 1, 2] and [p.sentence for p in whole] == [0, 1]


def test_a_stuck_streamed_sentence_fails_only_its_own_request(token_voice: sonorant.Voice) -> None:
    """Two first sentences stream in one loop under max_tokens 20: "Come here." ends (5 tokens) and plays;
    "Hello friend." does not, and its request gets the error, with no audio before it."""
    cfg = SynthesisConfig(max_tokens=20)
    config = ServeConfig(max_batch=2, batch_wait_ms=2000)  # the first step waits for both requests
    (ok, stuck), recorder = _recorded(token_voice, config, [("Come here.", cfg, True),
                                                            ("Hello friend. Come here.", cfg, True)])
    assert [b for b in recorder.batches if b[0] == "tokens"] == [("tokens", 2, 2)]
    ref = token_voice.synthesize("Come here.", cfg).samples
    assert isinstance(ok, list) and float(np.max(np.abs(np.concatenate([p.samples for p in ok]) - ref))) < 1e-5
    assert isinstance(stuck, DecodeLimitError) and "sentence 1 of 2 did not end within 20 tokens" in str(stuck)
    assert recorder.pieces == [min(recorder.pieces)]  # one piece, the first request's


def test_requests_with_other_settings_get_turns(token_voice: sonorant.Voice) -> None:
    """One row per loop: a sampled request waits for one sentence of the older greedy one, not all three (the
    first loop is held until both are queued)."""
    config = ServeConfig(max_batch=1, batch_wait_ms=0)
    sampled = SynthesisConfig(**SAMPLED)
    results, recorder = _recorded(token_voice, config, [(THREE, SynthesisConfig(seed=1), False),
                                                        ("Good day.", sampled, False)], hold=True)
    assert all(isinstance(r, list) for r in results)
    greedy, sampled_id = sorted(set(recorder.pieces))  # ticket ids grow in the order of submission
    assert recorder.pieces == [greedy, sampled_id, greedy, greedy]
    ref = token_voice.synthesize("Good day.", sampled).samples
    assert float(np.max(np.abs(np.concatenate([p.samples for p in results[1]]) - ref))) < 1e-5


def test_warmup_builds_the_graphs_of_short_requests() -> None:
    """Warm-up runs the token voice's loops for every batch size and its codec; afterwards a greedy
    one-sentence request in the smallest buckets builds no graph."""
    voice = _load()  # a fresh runtime: no graph run yet
    runtime = voice.engine.runtime
    assert runtime.graphs_compiled == 0
    service = SpeechService([voice], ServeConfig(max_batch=2))
    service.warmup()
    built = runtime.graphs_compiled
    assert built > 0
    service.start()
    try:
        [pieces] = _speak(service, [("Come here.", SynthesisConfig(), True)])
    finally:
        service.close()
    assert pieces and runtime.graphs_compiled == built


# ---- HTTP -------------------------------------------------------------------------------------------------


def test_whole_file_equals_synthesize_with_the_requests_decoding(tok_server: Running) -> None:
    cfg = SynthesisConfig(sentence_silence=0.05, **SAMPLED)
    ref = tok_server.voice.synthesize(THREE, cfg).samples
    r = _post(tok_server, input=THREE, response_format="wav", stream=False, sentence_silence=0.05, **SAMPLED)
    assert r.status_code == 200, r.text
    assert r.headers["x-sonorant-voice"] == tok_server.voice.name and r.headers["x-sonorant-seed"] == "3"
    samples, rate = decode("wav", r.content)
    assert rate == tok_server.voice.sample_rate
    _close(samples, ref)
    greedy = tok_server.voice.synthesize(THREE, SynthesisConfig(seed=3, sentence_silence=0.05)).samples
    assert len(greedy) != len(ref), "the decoding settings did not reach the voice"


def test_stream_concatenates_to_synthesize(tok_server: Running) -> None:
    ref = tok_server.voice.synthesize(THREE, SynthesisConfig(seed=8)).samples
    chunks = []
    with httpx.stream("POST", tok_server.url + "/v1/audio/speech", headers=AUTH, timeout=120,
                      json={"voice": "alloy", "input": THREE, "response_format": "pcm", "seed": 8}) as response:
        assert response.status_code == 200
        request_id = int(response.headers["x-sonorant-request"])
        chunks = list(response.iter_bytes())
    _close(np.frombuffer(b"".join(chunks), "<i2").astype(np.int32), ref)
    ticket = wait_done(tok_server.observer, request_id)
    assert ticket.status == "done" and ticket.pieces == 5  # 16 + 1 frames, 16 + 2, 2: chunks of each sentence
    metrics = httpx.get(tok_server.url + "/metrics", headers=AUTH).text
    for name in ('sonorant_batch_size_count{stage="tokens"}', 'sonorant_batch_size_count{stage="vocode"}',
                 "sonorant_ttfa_seconds_count", "sonorant_rtf_count", "sonorant_audio_seconds_total"):
        assert float(re.search(rf"^{re.escape(name)} (\S+)$", metrics, re.MULTILINE).group(1)) > 0, name


def _sse(server: Running, **body: object) -> list[dict]:
    """The events of a streamed SSE request."""
    with httpx.stream("POST", server.url + "/v1/audio/speech", headers=AUTH, timeout=120,
                      json={"voice": "alloy", "response_format": "pcm", "stream_format": "sse", **body}) as response:
        assert response.status_code == 200, response.read()
        return [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]


def test_one_sentence_streams_in_chunks_over_http(tok_server: Running) -> None:
    """A one-sentence request's audio comes as its chunks are decoded (16, 32, 64, 8 frames: one SSE delta
    each), not as one piece after its 241 tokens; joined, synthesize's audio."""
    events = _sse(tok_server, input=FAMILY, seed=6)
    assert [e["type"] for e in events] == ["speech.audio.delta"] * 4 + ["speech.audio.done"]
    audio = [np.frombuffer(base64.b64decode(e["audio"]), "<i2").astype(np.int32) for e in events[:4]]
    assert [len(a) for a in audio] == [16 * HOP, 32 * HOP, 64 * HOP, 8 * HOP]
    _close(np.concatenate(audio), tok_server.voice.synthesize(FAMILY, SynthesisConfig(seed=6)).samples)


def test_a_sentence_past_its_bound_after_its_first_chunks_ends_with_an_error(tok_server: Running) -> None:
    """max_tokens 100 cuts FAMILY at 50 frames: the chunks completed before the bound (16 and 32 frames) went
    out, then the error event names the sentence and the bound."""
    events = _sse(tok_server, input=FAMILY, max_tokens=100)
    assert [e["type"] for e in events] == ["speech.audio.delta"] * 2 + ["error"]
    assert [len(base64.b64decode(e["audio"])) // 2 for e in events[:2]] == [16 * HOP, 32 * HOP]
    error = events[2]["error"]
    assert error["code"] == "decode_limit" and "sentence 1 of 1 did not end within 100 tokens" in error["message"]


def test_concurrent_requests_share_a_loop_and_match_synthesize(tok_server: Running) -> None:
    """The first loop is held until a second request waits: the next loop takes a sentence of each."""
    texts = [THREE, "Good day. Come here."]
    observer = tok_server.observer
    observer.batches.clear()
    gate = threading.Event()
    observer.batch_gate = gate
    try:
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(_post, tok_server, input=texts[0], response_format="pcm", stream=False, seed=1)
            deadline = time.monotonic() + 30
            while not observer.batches and time.monotonic() < deadline:
                time.sleep(0.01)
            second = pool.submit(_post, tok_server, input=texts[1], response_format="pcm", stream=False, seed=2)
            while tok_server.service.depth < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            observer.batch_gate = None
            gate.set()
            responses = [first.result(), second.result()]
    finally:
        observer.batch_gate = None
        gate.set()
    for text, seed, r in zip(texts, (1, 2), responses):
        assert r.status_code == 200, r.text
        _close(np.frombuffer(r.content, "<i2").astype(np.int32),
               tok_server.voice.synthesize(text, SynthesisConfig(seed=seed)).samples)
    assert ("tokens", 2, 2) in observer.batches, observer.batches


def test_a_client_that_leaves_cancels_the_rest(tok_server: Running) -> None:
    """The worker is held after the first sentence's piece until the server has marked the request
    cancelled (the client left after its first chunk); the other sentences are never decoded."""
    seen: dict[str, bool] = {}

    def gate(ticket: Ticket, index: int) -> None:
        if index == 0 and ticket.streaming:
            deadline = time.monotonic() + 30
            while not ticket.cancelled and time.monotonic() < deadline:
                time.sleep(0.01)
            seen["cancelled"] = ticket.cancelled

    tok_server.observer.piece_gate = gate
    try:
        with httpx.stream("POST", tok_server.url + "/v1/audio/speech", headers=AUTH, timeout=60,
                          json={"voice": "alloy", "input": THREE, "response_format": "pcm"}) as response:
            assert response.status_code == 200
            request_id = int(response.headers["x-sonorant-request"])
            next(response.iter_raw())
        ticket = wait_done(tok_server.observer, request_id)
    finally:
        tok_server.observer.piece_gate = None
    assert seen == {"cancelled": True}
    assert ticket.status == "cancelled" and ticket.pieces == 1


def test_a_client_that_leaves_mid_sentence_stops_its_decoding_loop(tok_server: Running) -> None:
    """"Yes." would decode to its bound (300 tokens). The client leaves after the first chunk; the worker,
    held after that piece until the server has marked the request cancelled, closes the loop at that read:
    32 tokens generated, one piece sent."""
    seen: dict[str, bool] = {}
    observer = tok_server.observer
    mark: list[int] = []

    def gate(ticket: Ticket, index: int) -> None:
        if index == 0 and ticket.streaming:
            mark.append(len(observer.frames))  # on the worker, in this request's loop: later passes are its own
            deadline = time.monotonic() + 30
            while not ticket.cancelled and time.monotonic() < deadline:
                time.sleep(0.01)
            seen["cancelled"] = ticket.cancelled

    observer.piece_gate = gate
    try:
        with httpx.stream("POST", tok_server.url + "/v1/audio/speech", headers=AUTH, timeout=60,
                          json={"voice": "alloy", "input": "Yes.", "response_format": "pcm"}) as response:
            assert response.status_code == 200
            request_id = int(response.headers["x-sonorant-request"])
            next(response.iter_raw())
        ticket = wait_done(observer, request_id)
    finally:
        observer.piece_gate = None
    assert seen == {"cancelled": True}
    assert ticket.status == "cancelled" and ticket.pieces == 1
    [start] = mark
    deadline = time.monotonic() + 30  # the loop reports its tokens as it closes, after the request ended
    while not any(stage == "tokens" for stage, _ in observer.frames[start:]) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert [n for stage, n in observer.frames[start:] if stage == "tokens"] == [32]


@pytest.mark.parametrize("stream", [False, True])
def test_too_small_max_tokens_is_a_clear_422(tok_server: Running, stream: bool) -> None:
    r = _post(tok_server, input="Hello friend.", max_tokens=12, stream=stream, response_format="wav")
    assert r.status_code == 422 and r.headers["content-type"] == "application/json"
    error = r.json()["error"]
    assert error["code"] == "decode_limit"
    assert "did not end within 12 tokens" in error["message"] and "max_tokens" in error["message"]


def test_a_later_sentence_past_its_bound_ends_a_stream_with_an_error(tok_server: Running) -> None:
    """The first sentence's audio is already out: SSE ends with an `error` event, a raw stream is cut (the
    client sees an incomplete body, never a short file that looks whole)."""
    body = {"voice": "alloy", "input": "Come here. Hello friend.", "max_tokens": 12, "response_format": "pcm"}
    with httpx.stream("POST", tok_server.url + "/v1/audio/speech", headers=AUTH, timeout=60,
                      json={**body, "stream_format": "sse"}) as response:
        assert response.status_code == 200
        events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]
    assert [e["type"] for e in events] == ["speech.audio.delta", "error"]
    assert base64.b64decode(events[0]["audio"])
    assert events[1]["error"]["code"] == "decode_limit" and "sentence 2 of 2" in events[1]["error"]["message"]
    with (pytest.raises(httpx.RemoteProtocolError),
          httpx.stream("POST", tok_server.url + "/v1/audio/speech", headers=AUTH, timeout=60, json=body) as response):
        assert response.status_code == 200
        for _ in response.iter_bytes():
            pass


@pytest.mark.parametrize("field, value", [("decoding", "nope"), ("temperature", -1), ("top_p", 0), ("top_k", 1.5),
                                          ("max_tokens", 0), ("beams", 65), ("temperature", True)])
def test_bad_decoding_fields_are_422(tok_server: Running, field: str, value: object) -> None:
    r = _post(tok_server, input="Hi.", **{field: value})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["param"] == field


def test_busy_answers_503_with_retry_after(token_voice: sonorant.Voice) -> None:
    running = start_server([token_voice], ServeConfig(max_queue=1))
    gate = threading.Event()
    running.observer.batch_gate = gate
    try:
        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(_post, running, input="Come here.", response_format="pcm", stream=False)
            deadline = time.monotonic() + 30
            while running.service.depth < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            refused = httpx.post(running.url + "/v1/audio/speech", json={"input": "Hi.", "voice": "alloy"}, timeout=30)
            running.observer.batch_gate = None
            gate.set()
            assert held.result().status_code == 200
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert "busy" in refused.json()["error"]["message"]
    finally:
        gate.set()
        running.server.stop()


def test_both_kinds_of_voice_listed_and_served(tok_server: Running, steady_voice: sonorant.Voice) -> None:
    voices = httpx.get(tok_server.url + "/v1/voices", headers=AUTH).json()["data"]
    assert [(v["id"], v["family"]) for v in voices] == [(tok_server.voice.name, "toktts"), (steady_voice.name, "vits")]
    health = httpx.get(tok_server.url + "/health").json()
    assert health["status"] == "ok" and health["queue_depth"] == 0
    r = _post(tok_server, voice=steady_voice.name, input="Hi.", response_format="pcm", stream=False, seed=4)
    _close(np.frombuffer(r.content, "<i2").astype(np.int32),
           steady_voice.synthesize("Hi.", SynthesisConfig(seed=4)).samples)
    t = _post(tok_server, input="Come here.", response_format="pcm", stream=False)
    assert t.status_code == 200 and t.headers["x-sonorant-voice"] == tok_server.voice.name
    assert int(t.headers["x-sonorant-request"]) > int(r.headers["x-sonorant-request"])  # one id sequence


# ---- Wyoming ---------------------------------------------------------------------------------------------


async def _wyoming(server: Running, text: str) -> list:
    from wyoming.client import AsyncTcpClient

    host, port = server.server.wyoming_address
    events = []
    async with AsyncTcpClient(host, port) as client:
        await client.write_event(Synthesize(text=text, voice=SynthesizeVoice(name=server.voice.name)).event())
        while not events or events[-1].type not in ("audio-stop", "error"):
            events.append(await asyncio.wait_for(client.read_event(), 60))
    return events


def test_wyoming_speaks_a_token_voice_and_reports_its_bound(tok_server: Running) -> None:
    events = asyncio.run(_wyoming(tok_server, "Hello friend. Good day."))
    samples = sum(len(e.payload or b"") // 2 for e in events if e.type == "audio-chunk")
    assert events[-1].type == "audio-stop"
    assert samples == len(tok_server.voice.synthesize("Hello friend. Good day.").samples)  # greedy: any seed
    events = asyncio.run(_wyoming(tok_server, "Yes."))
    error = Error.from_event(events[-1])
    assert error.code == "DecodeLimitError" and "did not end within 300 tokens" in error.text


# ---- sonorant serve --------------------------------------------------------------------------------------


def test_serve_command_serves_a_token_voice(steady_voice_files: Path, token_voice: sonorant.Voice) -> None:
    """`sonorant serve --voice TOKTTS_DIR --codec ENCODEC --voice PIPER.onnx`: --codec goes to the token voice."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sonorant", "serve", "--port", "0", "--voice", str(FIXTURES / "toktts" / "model"),
         "--codec", str(FIXTURES / "encodec" / "encodec_tiny.th"), "--voice", str(steady_voice_files)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    log: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # until the server says where it listens
            log.append(line)
            if m := re.search(r"serving \S+ on (http://\S+)/v1", line):
                url = m.group(1)
                break
        else:
            pytest.fail("".join(log))
        r = httpx.post(url + "/v1/audio/speech", timeout=60, json={"voice": "alloy", "input": "Hello friend.",
                                                                   "response_format": "pcm", "stream": False})
        assert r.status_code == 200, r.text
        assert len(r.content) // 2 == len(token_voice.synthesize("Hello friend.").samples)
    finally:
        proc.terminate()
        _, rest = proc.communicate(timeout=60)  # drains stderr while it stops
        log.append(rest or "")
    assert proc.returncode == 0, "".join(log)
