"""The Wyoming server against clients that break the protocol: sizes are bounded before anything is
buffered, malformed events get an `error` event, and stopping the server with clients connected is clean."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest
from serve_support import MAX_PHONEME_IDS, Running, start_server
from wyoming.error import Error
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.info import Describe
from wyoming.tts import Synthesize

import sonorant
from sonorant.serve import ServeConfig

TIMEOUT = 30.0


async def _read(reader: asyncio.StreamReader) -> Event | None:
    return await asyncio.wait_for(async_read_event(reader), TIMEOUT)


async def _closed(reader: asyncio.StreamReader) -> bool:
    """Whether the server ends the connection (EOF or reset) within the timeout (what it still sends is
    read and dropped)."""

    async def drain() -> None:
        while await reader.read(65536):
            pass

    try:
        await asyncio.wait_for(drain(), TIMEOUT)
    except ConnectionError:
        pass
    except asyncio.TimeoutError:
        return False
    return True


def _error_then_close(server: Running, raw: bytes, then_send: int = 0) -> tuple[Error, bool]:
    """Send `raw` (and `then_send` more bytes, as a client that keeps going would), read the server's one
    event, then whether it closes the connection."""

    async def run() -> tuple[Error, bool]:
        reader, writer = await asyncio.open_connection(*server.server.wyoming_address)
        writer.write(raw)
        await writer.drain()
        try:
            event = await _read(reader)
            assert event is not None and Error.is_type(event.type), event
            chunk = b"\0" * 65536
            try:
                for _ in range(then_send // len(chunk)):
                    writer.write(chunk)
                    await writer.drain()
            except ConnectionError:
                pass  # the server has stopped reading: fine
            return Error.from_event(event), await _closed(reader)
        finally:
            writer.close()

    return asyncio.run(run())


@pytest.mark.parametrize("key", ["payload_length", "data_length"])
def test_a_declared_size_over_the_limit_is_refused_before_it_is_read(server: Running, key: str) -> None:
    """2 GiB declared: the error comes back at once, before the client has sent (or the server held) it."""
    header = json.dumps({"type": "synthesize", key: 2 * 1024**3}).encode() + b"\n"
    error, closed = _error_then_close(server, header + b"x" * 1024, then_send=4 * 1024 * 1024)
    assert key in error.text and str(server.service.config.max_body_bytes) in error.text
    assert error.code == "too_large" and closed


def test_a_header_line_over_the_limit_is_refused(server: Running) -> None:
    error, closed = _error_then_close(server, b'{"type": "describe", "pad": "' + b"a" * 200_000)
    assert "header" in error.text and closed


@pytest.mark.parametrize("line", [b"not json\n", b"[1, 2]\n", b'{"type": "describe", "data_length": -1}\n',
                                  b'{"type": "describe", "payload_length": "10"}\n', b"\xff\xfe\n"])
def test_a_header_that_cannot_be_framed_is_an_error_then_close(server: Running, line: bytes) -> None:
    error, closed = _error_then_close(server, line)
    assert error.text and error.code == "invalid_event" and closed


@pytest.mark.parametrize("raw, message", [
    (b'{"data": {"text": "Hi."}}\n', "'type'"),
    (b'{"type": 5}\n', "'type'"),
    (b'{"type": "synthesize", "data": [1]}\n', "'data' must be a JSON object"),
    (b'{"type": "synthesize", "data_length": 6}\n[1, 2]', "data must be a JSON object"),
    (b'{"type": "synthesize", "data_length": 5}\n{"te}', "data is not JSON"),
    (b'{"type": "synthesize", "data": {}}\n', "'text'"),
    (b'{"type": "synthesize", "data": {"text": 5}}\n', "'text'"),
    (b'{"type": "synthesize", "data": {"text": "Hi.", "voice": "joe"}}\n', "'voice'"),
    (b'{"type": "synthesize", "data": {"text": "Hi.", "voice": {"language": 5}}}\n', "language"),
    (b'{"type": "synthesize-chunk", "data": {"text": null}}\n', "'text'"),
])
def test_a_malformed_event_is_answered_and_the_connection_goes_on(server: Running, raw: bytes, message: str) -> None:
    async def run() -> tuple[Event | None, Event | None]:
        reader, writer = await asyncio.open_connection(*server.server.wyoming_address)
        try:
            if b"synthesize-chunk" in raw:
                await async_write_event(Event("synthesize-start"), writer)
            writer.write(raw)
            await writer.drain()
            answer = await _read(reader)
            await async_write_event(Describe().event(), writer)
            return answer, await _read(reader)
        finally:
            writer.close()

    answer, after = asyncio.run(run())
    assert answer is not None and Error.is_type(answer.type) and message in Error.from_event(answer).text
    assert after is not None and after.type == "info", "the connection did not go on after the error"


def test_text_over_the_phoneme_limit_is_an_error_event(server: Running) -> None:
    async def run() -> Event | None:
        reader, writer = await asyncio.open_connection(*server.server.wyoming_address)
        try:
            await async_write_event(Synthesize(text="9" * 290).event(), writer)
            return await _read(reader)
        finally:
            writer.close()

    event = asyncio.run(run())
    assert event is not None and Error.is_type(event.type)
    assert str(MAX_PHONEME_IDS) in Error.from_event(event).text


def test_stopping_with_clients_connected_logs_no_error(steady_voice: sonorant.Voice,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """One client idle, one in the middle of a long synthesis: the server stops without a traceback."""
    running = start_server([steady_voice], ServeConfig(), wyoming="tcp://127.0.0.1:0")
    text = " ".join(f"Sentence number {i} of a long request that is still running." for i in range(12))

    async def clients() -> None:
        idle_reader, idle_writer = await asyncio.open_connection(*running.server.wyoming_address)
        busy_reader, busy_writer = await asyncio.open_connection(*running.server.wyoming_address)
        try:
            await async_write_event(Synthesize(text=text).event(), busy_writer)
            first = await _read(busy_reader)
            assert first is not None and first.type == "audio-start"
            await asyncio.get_running_loop().run_in_executor(None, running.server.stop)
            assert await _closed(busy_reader) and await _closed(idle_reader)
        finally:
            idle_writer.close()
            busy_writer.close()

    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    try:
        asyncio.run(clients())
    finally:
        running.server.stop()
    assert time.monotonic() - started < TIMEOUT
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info or r.name == "asyncio"]
    assert not problems, [f"{r.name}: {r.getMessage()}" for r in problems]
