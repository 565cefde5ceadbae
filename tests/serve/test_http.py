"""The OpenAI-compatible HTTP API, driven by the official `openai` client against a server on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import openai
import pytest

import sonorant
from sonorant.audio import to_int16

from serve_support import API_KEY, MAX_CHARS, Running, decode, expected_audio, stream_pcm, wait_done

TEXT = "Hello there. The server speaks two sentences."


def test_speed_maps_to_length_scale(server: Running) -> None:
    ref = expected_audio(server.voice, TEXT, seed=13, speed=2.0)
    slow = expected_audio(server.voice, TEXT, seed=13, speed=1.0)
    response = server.client().audio.speech.create(model="tts-1", voice="alloy", input=TEXT, response_format="pcm",
                                                   speed=2.0, extra_body={"seed": 13})
    assert len(response.content) // 2 == len(ref) < len(slow)


def test_knobs_reach_the_voice(server: Running) -> None:
    cfg = sonorant.SynthesisConfig(seed=13, knobs={"length_scale": 1.7, "noise_scale": 0.2})
    ref = server.voice.synthesize(TEXT, cfg).samples
    response = server.client().audio.speech.create(model="tts-1", voice="alloy", input=TEXT, response_format="pcm",
                                                   extra_body={"seed": 13, "knobs": {"length_scale": 1.7, "noise_scale": 0.2}})
    got = np.frombuffer(response.content, dtype="<i2")
    assert len(got) == len(ref) and np.abs(got.astype(np.int32) - to_int16(ref)).max() <= 1


def test_streaming_sends_audio_before_synthesis_ends(server: Running) -> None:
    """The worker is held after the request's first piece until the client has read bytes: were the
    response buffered, the client would read nothing and the hold would time out."""
    text = "One sentence first. A second one follows. And a third, to make the stream longer."
    client_has_bytes = threading.Event()
    held: dict[int, bool] = {}

    def gate(ticket, index: int) -> None:  # noqa: ANN001
        if index == 0 and ticket.streaming:
            held[ticket.id] = client_has_bytes.wait(30)

    server.observer.piece_gate = gate
    try:
        request_id, chunks, first_at = stream_pcm(server, text, 14, on_first=client_has_bytes.set)
    finally:
        server.observer.piece_gate = None
    ticket = wait_done(server.observer, request_id)
    assert held == {request_id: True}, "the first audio did not reach the client while synthesis was held"
    assert ticket.status == "done" and ticket.finished is not None and first_at < ticket.finished
    assert ticket.pieces > 3 and len(chunks) > 1
    assert sum(map(len, chunks)) // 2 == len(expected_audio(server.voice, text, seed=14))


def test_sse_stream_format(server: Running) -> None:
    body = {"model": "tts-1", "voice": "alloy", "input": TEXT, "response_format": "wav", "stream_format": "sse",
            "seed": 15}
    audio = b""
    kinds = []
    with httpx.stream("POST", server.url + "/v1/audio/speech", json=body, timeout=120,
                      headers={"Authorization": f"Bearer {API_KEY}"}) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                event = json.loads(line[6:])
                kinds.append(event["type"])
                if event["type"] == "speech.audio.delta":
                    audio += base64.b64decode(event["audio"])
    assert kinds[-1] == "speech.audio.done" and kinds.count("speech.audio.delta") > 1
    samples, rate = decode("wav", audio)  # a streamed WAV: its header says "length unknown"
    assert rate == server.voice.sample_rate and len(samples) == len(expected_audio(server.voice, TEXT, seed=15))


def test_concurrent_requests_share_passes_and_match_synthesize(server: Running) -> None:
    texts = ["First client speaks.", "Second client, slightly longer, speaks.", "Third.", "Fourth client here now."]
    server.observer.batches.clear()
    gate = threading.Event()
    server.observer.batch_gate = gate  # hold the first pass so all four requests queue up behind it

    def ask(i: int) -> bytes:
        return server.client().audio.speech.create(model="tts-1", voice="alloy", input=texts[i], response_format="pcm",
                                                   extra_body={"seed": 20 + i}).content

    try:
        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(ask, i) for i in range(4)]
            deadline = time.monotonic() + 30
            while server.service.scheduler.depth < 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            server.observer.batch_gate = None
            gate.set()
            results = [f.result() for f in futures]
    finally:
        server.observer.batch_gate = None
        gate.set()
    for i, data in enumerate(results):
        ref = to_int16(expected_audio(server.voice, texts[i], seed=20 + i)).astype(np.int32)
        got = np.frombuffer(data, "<i2").astype(np.int32)
        assert len(got) == len(ref) and int(np.max(np.abs(got - ref))) <= 1
    assert max(requests for _, _, requests in server.observer.batches) >= 2, "no pass was shared between requests"


def test_api_key_is_required(server: Running) -> None:
    with pytest.raises(openai.AuthenticationError):
        server.client(api_key="wrong").audio.speech.create(model="tts-1", voice="alloy", input="Hi.")
    assert httpx.post(server.url + "/v1/audio/speech", json={"input": "Hi.", "voice": "alloy"}).status_code == 401
    assert httpx.get(server.url + "/metrics").status_code == 401
    assert httpx.get(server.url + "/health").status_code == 200


@pytest.mark.parametrize("voice", ["nobody", "../../../etc/passwd", "/etc/passwd", "en_US-joe-medium"])
def test_unknown_voice_is_404_with_the_list(server: Running, voice: str) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        server.client().audio.speech.create(model="tts-1", voice=voice, input="Hi.")
    assert server.voice.name in err.value.message and "unknown voice" in err.value.message


def test_voice_by_name_and_by_id_object(server: Running) -> None:
    for voice in (server.voice.name, {"id": server.voice.name}):
        assert server.client().audio.speech.create(model="x", voice=voice, input="Hi.", response_format="pcm").content


def test_oversized_input_is_refused_with_the_limit(server: Running) -> None:
    text = "word " * (MAX_CHARS // 5 + 1)
    with pytest.raises(openai.APIStatusError) as err:
        server.client().audio.speech.create(model="tts-1", voice="alloy", input=text)
    assert err.value.status_code == 413
    assert str(MAX_CHARS) in err.value.message and str(len(text)) in err.value.message
    big = httpx.post(server.url + "/v1/audio/speech", content=b" " * 20000, timeout=30,
                     headers={"Authorization": f"Bearer {API_KEY}", "content-type": "application/json"})
    assert big.status_code == 413 and "16384" in big.json()["error"]["message"]


@pytest.mark.parametrize("body", [b'{"input": "Hi.", "voice": ', b"not json", b'{"voice": "alloy"}',
                                  b'{"input": 5, "voice": "alloy"}', b'{"input": "Hi.", "voice": "alloy", "speed": 9}',
                                  b'[1, 2]'])
def test_malformed_requests_are_422(server: Running, body: bytes) -> None:
    r = httpx.post(server.url + "/v1/audio/speech", content=body, timeout=30,
                   headers={"Authorization": f"Bearer {API_KEY}", "content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["error"]["message"]


@pytest.mark.parametrize("extra, message", [
    ({"speaker": 2}, "single speaker"), ({"noise_scale": -1}, "noise_scale"), ({"knobs": {"pace": 1.2}}, "unknown knob"),
    ({"knobs": {"noise_w": 99}}, "noise_w"),
])
def test_bad_settings_are_400_with_the_message(server: Running, extra: dict, message: str) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        server.client().audio.speech.create(model="tts-1", voice="alloy", input="Hi.", extra_body=extra)
    assert message in err.value.message


def test_empty_input_is_400(server: Running) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        server.client().audio.speech.create(model="tts-1", voice="alloy", input="   ")
    assert "empty" in err.value.message


def test_aac_is_refused_clearly(server: Running) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        server.client().audio.speech.create(model="tts-1", voice="alloy", input="Hi.", response_format="aac")
    assert "aac" in err.value.message and "wav" in err.value.message


def test_disconnecting_stream_cancels_its_work(server: Running) -> None:
    """The client leaves after its first chunk; the worker, held after the first piece until the server
    has marked the request cancelled, then drops the request's remaining sentences."""
    text = " ".join(f"Sentence {w} of a request the client abandons." for w in ("one", "two", "three", "four", "five"))
    full_frames = len(expected_audio(server.voice, text, seed=30)) // server.voice.engine.hop
    seen: dict[str, bool] = {}

    def gate(ticket, index: int) -> None:  # noqa: ANN001
        if index == 0 and ticket.streaming:
            deadline = time.monotonic() + 30
            while not ticket.cancelled and time.monotonic() < deadline:
                time.sleep(0.01)
            seen["cancelled"] = ticket.cancelled

    server.observer.piece_gate = gate
    try:
        with httpx.stream("POST", server.url + "/v1/audio/speech", timeout=60,
                          json={"model": "tts-1", "voice": "alloy", "input": text, "response_format": "pcm",
                                "seed": 30}, headers={"Authorization": f"Bearer {API_KEY}"}) as response:
            assert response.status_code == 200
            request_id = int(response.headers["x-sonorant-request"])
            next(response.iter_raw())
        # leaving the block closes the connection with the body unread
        ticket = wait_done(server.observer, request_id)
    finally:
        server.observer.piece_gate = None
    assert seen == {"cancelled": True}
    assert ticket.status == "cancelled"
    assert ticket.frames_decoded < full_frames / 2
    metrics = httpx.get(server.url + "/metrics", headers={"Authorization": f"Bearer {API_KEY}"}).text
    assert 'sonorant_scheduler_requests_total{status="cancelled"}' in metrics


def test_backpressure_answers_503_with_retry_after(steady_voice: sonorant.Voice) -> None:
    from sonorant.serve import ServeConfig

    from serve_support import start_server

    running = start_server([steady_voice], ServeConfig(max_queue=1))
    gate = threading.Event()
    running.observer.batch_gate = gate
    try:
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(lambda: running.client().audio.speech.create(
                model="tts-1", voice="alloy", input="Held request.", response_format="pcm").content)
            deadline = time.monotonic() + 30
            while running.service.scheduler.depth < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            r = httpx.post(running.url + "/v1/audio/speech", json={"input": "Refused.", "voice": "alloy"}, timeout=30)
            running.observer.batch_gate = None
            gate.set()
            assert len(first.result()) > 0
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert "busy" in r.json()["error"]["message"]
    finally:
        gate.set()
        running.server.stop()


def test_listing_endpoints(server: Running) -> None:
    auth = {"Authorization": f"Bearer {API_KEY}"}
    voices = httpx.get(server.url + "/v1/voices", headers=auth).json()
    entry = voices["data"][0]
    assert entry["id"] == server.voice.name and entry["sample_rate"] == server.voice.sample_rate
    assert "alloy" in entry["aliases"] and {"wav", "pcm", "flac"} <= set(voices["formats"])
    assert entry["family"] == "vits" and [k["name"] for k in entry["knobs"]] == ["length_scale", "noise_scale", "noise_w"]
    models = server.client().models.list()
    assert "tts-1" in [m.id for m in models.data]
    health = httpx.get(server.url + "/health").json()
    assert health["status"] == "ok" and health["max_chars"] == MAX_CHARS
    metrics = httpx.get(server.url + "/metrics", headers=auth).text
    for name in ("sonorant_requests_total", "sonorant_errors_total", "sonorant_queue_depth", "sonorant_batch_size",
                 "sonorant_ttfa_seconds", "sonorant_rtf", "process_resident_memory_bytes"):
        assert name in metrics
