"""The Wyoming protocol server (Home Assistant's voice pipeline talks it to Piper and other TTS services).

Events handled (from the `wyoming` package):

- `describe` -> `info` with one TTS program, sonorant, and its voices (languages, speakers); it says
  `supports_synthesize_streaming`.
- `synthesize` -> `audio-start`, `audio-chunk`s, `audio-stop`: 16-bit mono PCM at the voice's rate,
  sent as each decoder window is decoded.
- Streaming synthesis: `synthesize-start`, `synthesize-chunk`s, `synthesize-stop`. Text is spoken sentence
  by sentence as soon as a sentence is complete (each as `audio-start` ... `audio-stop`), the rest at
  `synthesize-stop`, followed by `synthesize-stopped`. The `synthesize` event a client sends during a
  stream, for older servers, is ignored.

Requests share the HTTP server's schedulers, limits and voices. Errors (unknown voice, text over the
character or phoneme limit, a full queue, a token voice's sentence past its token bound, an event with
missing or mistyped fields) are answered with an `error` event; the connection stays open. An event
whose header, data or payload is over its limit (`wyoming_io.Limits`: data and payload as large as an
HTTP body may be) or whose header is not JSON is answered with an `error` event, then the connection is
closed. Stopping the server ends every connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import urlparse

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, TtsProgram, TtsVoice, TtsVoiceSpeaker
from wyoming.server import AsyncEventHandler
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped, SynthesizeVoice

from .. import __version__
from ..audio import to_int16
from ..config import SynthesisConfig
from ..errors import ConfigError, SonorantError
from ..text.split import sentence_spans
from ..voice import Voice
from .service import SpeechService, SpeechStream
from .wyoming_io import Limits, ProtocolError, read_event

_LOG = logging.getLogger(__name__)

SAMPLE_WIDTH = 2
"""Bytes per sample of the audio sent (16-bit PCM)."""
LINGER_S = 2.0
"""After refusing an event and closing its side, how long the server reads (and drops) what the client still
sends, so that the client reads the `error` event before the connection is reset."""


class SonorantEventHandler(AsyncEventHandler):
    """One Wyoming connection."""

    def __init__(self, service: SpeechService, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 samples_per_chunk: int = 1024) -> None:
        super().__init__(reader, writer)
        self.service = service
        self.samples_per_chunk = samples_per_chunk
        self._streaming = False
        self._stream_voice: SynthesizeVoice | None = None
        self._pending = ""
        size = service.config.max_body_bytes
        self.limits = Limits(data=size, payload=size)

    async def run(self) -> None:
        """Answer events until the client leaves or breaks the protocol beyond repair."""
        try:
            while True:
                try:
                    event = await read_event(self.reader, self.limits)
                    if event is None or not await self.handle_event(event):
                        break
                except ProtocolError as exc:
                    self.service.metrics.errors.labels("wyoming_protocol").inc()
                    await self.write_event(Error(text=str(exc), code=exc.code).event())
                    if exc.fatal:
                        await self._linger()
                        break
        finally:
            await self.disconnect()
            self.writer.close()

    async def _linger(self) -> None:
        """Close the sending side, then drop what the client still sends for a moment (bounded in time and
        memory), so the `error` event is read rather than lost to a reset."""
        with contextlib.suppress(OSError, RuntimeError):
            if self.writer.can_write_eof():
                self.writer.write_eof()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LINGER_S
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            while (left := deadline - loop.time()) > 0:
                if not await asyncio.wait_for(self.reader.read(65536), left):
                    break

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(describe(self.service).event())
        elif Synthesize.is_type(event.type):
            if not self._streaming:  # during a stream this repeats the whole text for older servers
                await self._speak(_text(event), _voice(event))
        elif SynthesizeStart.is_type(event.type):
            voice = _voice(event)
            self._streaming = True
            self._stream_voice = voice
            self._pending = ""
        elif SynthesizeChunk.is_type(event.type):
            if self._streaming:
                self._pending += _text(event)
                await self._speak_complete_sentences()
        elif SynthesizeStop.is_type(event.type):
            if self._streaming:
                rest, self._pending = self._pending, ""
                if rest.strip():
                    await self._speak(rest, self._stream_voice)
                self._streaming = False
                await self.write_event(SynthesizeStopped().event())
        else:
            _LOG.debug("ignoring Wyoming event %s", event.type)
        return True

    async def _speak_complete_sentences(self) -> None:
        """Speak every finished sentence of the streamed text; keep the last, maybe unfinished, one."""
        limit = self.service.config.max_chars
        spans = sentence_spans(self._pending)
        if len(spans) > 1:
            cut = spans[-1][0]
            done, self._pending = self._pending[:cut], self._pending[cut:]
            await self._speak(done, self._stream_voice)
        while len(self._pending) > limit:  # no sentence end in sight: speak up to the last space within the limit
            cut = self._pending.rfind(" ", 0, limit) + 1 or limit
            done, self._pending = self._pending[:cut], self._pending[cut:]
            await self._speak(done, self._stream_voice)

    async def _speak(self, text: str, requested: SynthesizeVoice | None) -> None:
        try:
            voice, cfg = self._choose(requested)
            stream = await self.service.speak(voice, text, cfg, streaming=True)
        except SonorantError as exc:
            self.service.metrics.errors.labels("wyoming_refused").inc()
            await self.write_event(Error(text=str(exc), code=type(exc).__name__).event())
            return
        try:
            await self._send_audio(stream)
        except SonorantError as exc:
            await self.write_event(Error(text=str(exc), code=type(exc).__name__).event())
        finally:
            stream.cancel()  # a no-op when complete; stops the work when the client went away

    async def _send_audio(self, stream: SpeechStream) -> None:
        rate = stream.sample_rate
        await self.write_event(AudioStart(rate=rate, width=SAMPLE_WIDTH, channels=1).event())
        sent = 0
        async for piece in stream:
            pcm = to_int16(piece.samples).astype("<i2")
            for start in range(0, len(pcm), self.samples_per_chunk):
                chunk = pcm[start : start + self.samples_per_chunk]
                await self.write_event(AudioChunk(rate=rate, width=SAMPLE_WIDTH, channels=1, audio=chunk.tobytes(),
                                                  timestamp=sent * 1000 // rate).event())
                sent += len(chunk)
        await self.write_event(AudioStop(timestamp=sent * 1000 // rate).event())

    def _choose(self, requested: SynthesizeVoice | None) -> tuple[Voice, SynthesisConfig]:
        """The voice a request names (by name, else by language, else the default) and its speaker."""
        service = self.service
        if requested is None or (requested.name is None and requested.language is None):
            return service.default_voice, SynthesisConfig()
        if requested.name is not None:
            voice = service.find_voice(requested.name)
            return voice, SynthesisConfig(speaker=requested.speaker)
        lang = requested.language.replace("-", "_").lower()
        for v in service.voices.values():
            own = (v.language or "").lower()
            if own == lang or own.split("_")[0] == lang:
                return v, SynthesisConfig()
        raise ConfigError(f"no voice for language {requested.language!r}; voices: {', '.join(service.voices)}")


def _text(event: Event) -> str:
    text = event.data.get("text")
    if not isinstance(text, str):
        raise ProtocolError(f"{event.type} needs 'text', a string", fatal=False)
    return text


def _voice(event: Event) -> SynthesizeVoice | None:
    voice = event.data.get("voice")
    if voice is None:
        return None
    if not isinstance(voice, dict):
        raise ProtocolError(f"{event.type}: 'voice' must be an object ('name', 'language', 'speaker')", fatal=False)
    for key in ("name", "language", "speaker"):
        if voice.get(key) is not None and not isinstance(voice[key], str):
            raise ProtocolError(f"{event.type}: voice {key!r} must be a string", fatal=False)
    return SynthesizeVoice.from_dict(voice)


def describe(service: SpeechService) -> Info:
    """The `info` answer: sonorant as a TTS program with the loaded voices."""
    voices = []
    for name, v in service.voices.items():
        speakers = [TtsVoiceSpeaker(name=s) for s in sorted(v.speakers, key=v.speakers.get)] or None
        voices.append(TtsVoice(name=name, attribution=Attribution(name="Piper voice", url="https://github.com/rhasspy/piper"),
                               installed=True, description=f"{name} ({v.language}, {v.quality}, {v.sample_rate} Hz)",
                               version=None, languages=[v.language], speakers=speakers))
    program = TtsProgram(name="sonorant", attribution=Attribution(name="sonorant", url="https://pypi.org/project/sonorant/"),
                         installed=True, description="sonorant text to speech", version=__version__, voices=voices,
                         supports_synthesize_streaming=True)
    return Info(tts=[program])


class WyomingServer:
    """A listening Wyoming server and its open connections."""

    def __init__(self) -> None:
        self.server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task] = set()

    @property
    def address(self) -> tuple[str, int] | str:
        """Where it listens: (host, port) or a socket path."""
        assert self.server is not None
        address = self.server.sockets[0].getsockname()
        return tuple(address[:2]) if isinstance(address, tuple) else address

    async def close(self, timeout: float = 5.0) -> None:
        """Stop listening and end every connection (their requests are cancelled), waiting up to `timeout` s."""
        if self.server is not None:
            self.server.close()
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)


async def start_wyoming(service: SpeechService, uri: str) -> WyomingServer:
    """Listen on `uri` (tcp://HOST:PORT, port 0 picks a free one, or unix://PATH) in the running loop."""
    parsed = urlparse(uri)
    wyoming = WyomingServer()

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            wyoming._connections.add(task)
        try:
            await SonorantEventHandler(service, reader, writer).run()
        except asyncio.CancelledError:  # only `WyomingServer.close` cancels a connection: end it quietly
            _LOG.debug("Wyoming connection closed: the server is stopping")
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            _LOG.debug("Wyoming client went away: %s", exc)
        except Exception:  # one connection's failure never stops the server
            _LOG.exception("Wyoming connection failed")
        finally:
            wyoming._connections.discard(task)

    limit = Limits().header
    if parsed.scheme == "tcp":
        if parsed.hostname is None or parsed.port is None:
            raise ConfigError(f"Wyoming URI {uri!r} needs a host and a port: tcp://127.0.0.1:10200")
        wyoming.server = await asyncio.start_server(connected, parsed.hostname, parsed.port, limit=limit)
    elif parsed.scheme == "unix":
        wyoming.server = await asyncio.start_unix_server(connected, parsed.path, limit=limit)
    else:
        raise ConfigError(f"Wyoming URI {uri!r}: use tcp://HOST:PORT or unix://PATH")
    return wyoming
