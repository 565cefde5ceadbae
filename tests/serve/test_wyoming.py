"""The Wyoming server, driven by the `wyoming` package's own TCP client."""

from __future__ import annotations

import asyncio

import pytest
from serve_support import Running
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped, SynthesizeVoice

import sonorant


async def _exchange(server: Running, events: list[Event], until: str, limit: float = 60.0) -> list[Event]:
    """Send `events`, then read events until one of type `until` arrives."""
    host, port = server.server.wyoming_address
    received = []
    async with AsyncTcpClient(host, port) as client:
        for event in events:
            await client.write_event(event)
        while True:
            event = await asyncio.wait_for(client.read_event(), limit)
            assert event is not None, "the server closed the connection"
            received.append(event)
            if event.type == until:
                return received


def _audio(events: list[Event]) -> tuple[list[AudioStart], list[AudioChunk], int]:
    starts = [AudioStart.from_event(e) for e in events if AudioStart.is_type(e.type)]
    chunks = [AudioChunk.from_event(e) for e in events if AudioChunk.is_type(e.type)]
    stops = sum(AudioStop.is_type(e.type) for e in events)
    return starts, chunks, stops


def test_describe_lists_the_voices(server: Running) -> None:
    events = asyncio.run(_exchange(server, [Describe().event()], "info"))
    info = Info.from_event(events[-1])
    program = info.tts[0]
    assert program.name == "sonorant" and program.supports_synthesize_streaming
    assert [v.name for v in program.voices] == [server.voice.name]
    assert program.voices[0].languages == [server.voice.language]


def test_synthesize_sends_start_chunks_stop_in_the_voice_format(server: Running) -> None:
    text = "Home Assistant asks, and sonorant answers."
    expected = len(server.voice.synthesize(text).samples)  # noise_w is 0: the length does not depend on the seed
    events = asyncio.run(_exchange(server, [Synthesize(text=text, voice=SynthesizeVoice(name=server.voice.name)).event()],
                                   "audio-stop"))
    starts, chunks, stops = _audio(events)
    assert events[0].type == "audio-start" and len(starts) == 1 and stops == 1
    assert (starts[0].rate, starts[0].width, starts[0].channels) == (server.voice.sample_rate, 2, 1)
    assert len(chunks) > 1
    assert all((c.rate, c.width, c.channels) == (server.voice.sample_rate, 2, 1) for c in chunks)
    assert sum(c.samples for c in chunks) == expected


def test_streaming_synthesis_speaks_each_sentence_then_stops(server: Running) -> None:
    pieces = ["The first sent", "ence ends here. The second", " one ends here. And the", " rest."]
    whole = "".join(pieces)
    expected = len(server.voice.synthesize(whole).samples)
    events = [SynthesizeStart(voice=SynthesizeVoice(name=server.voice.name)).event()]
    events += [SynthesizeChunk(text=p).event() for p in pieces]
    events += [Synthesize(text=whole).event(), SynthesizeStop().event()]  # the full text again, for older servers
    received = asyncio.run(_exchange(server, events, "synthesize-stopped"))
    starts, chunks, stops = _audio(received)
    assert SynthesizeStopped.is_type(received[-1].type)
    assert len(starts) == stops >= 2, "sentences finished mid-stream are spoken before synthesize-stop"
    # the compatibility `synthesize` is ignored: the audio is the text once (sentence pieces, each its own request)
    assert abs(sum(c.samples for c in chunks) - expected) <= 0.05 * expected


@pytest.mark.parametrize("voice, message", [(SynthesizeVoice(name="nobody"), "unknown voice"),
                                            (SynthesizeVoice(language="xx"), "no voice for language")])
def test_errors_are_error_events(server: Running, voice: SynthesizeVoice, message: str) -> None:
    events = asyncio.run(_exchange(server, [Synthesize(text="Hello.", voice=voice).event()], "error"))
    assert message in Error.from_event(events[-1]).text


def test_language_picks_a_voice_and_long_text_is_refused(server: Running) -> None:
    events = asyncio.run(_exchange(server, [Synthesize(text="Hi.", voice=SynthesizeVoice(language="en_US")).event()],
                                   "audio-stop"))
    assert _audio(events)[0][0].rate == server.voice.sample_rate
    too_long = "word " * 100
    events = asyncio.run(_exchange(server, [Synthesize(text=too_long).event()], "error"))
    assert "at most" in Error.from_event(events[-1]).text


def test_same_seeded_audio_as_http(server: Running) -> None:
    """Wyoming and HTTP share one scheduler and voice: the sample rate and length agree."""
    text = "Shared scheduler."
    http = server.client().audio.speech.create(model="tts-1", voice="alloy", input=text, response_format="pcm").content
    events = asyncio.run(_exchange(server, [Synthesize(text=text).event()], "audio-stop"))
    assert sum(c.samples for c in _audio(events)[1]) == len(http) // 2 == len(
        server.voice.synthesize(text, sonorant.SynthesisConfig(seed=1)).samples)
