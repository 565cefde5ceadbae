"""The speech service behind the HTTP and Wyoming front ends: preloaded voices, input limits, the text
front end, and the batching schedulers, with an asyncio face.

Stage-graph voices (VITS, FastPitch, Tacotron2) share one `Scheduler`; each token voice (its spec has
`tokens`) gets a `TokenScheduler` of its own, a worker thread that batches the sentences of that voice's
requests through its decoding loops. Both answer the same way (tickets, pieces, sinks), so a front end
never needs to know which kind of voice it speaks with; `max_queue` bounds the requests held by all of
them together.

Voices are looked up by name among the ones loaded at start; a request never names a file, so no voice
name reaches the file system. OpenAI's built-in voice names (alloy, echo, ...) are aliases of the
default voice (the first one loaded), so clients that hard-code them work unchanged; the aliases
`sonorant.load_voice` accepts for a bundled voice (en_US-joe-medium for joe) name it here too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..config import SynthesisConfig
from ..engine.scheduler import Piece, Scheduler, SchedulerBusy, SchedulerConfig, SchedulerObserver, Ticket
from ..engine.streaming import StreamConfig
from ..engine.token_scheduler import TokenScheduler
from ..errors import ConfigError, TextError, VoiceError
from ..voice import Voice
from ..voices import registry
from .metrics import ServerMetrics

_LOG = logging.getLogger(__name__)

OPENAI_VOICES = ("alloy", "ash", "ballad", "cedar", "coral", "echo", "fable", "marin", "nova", "onyx", "sage",
                 "shimmer", "verse")
"""OpenAI's built-in voice names: aliases of the server's default voice."""

__all__ = ["InputTooLong", "OPENAI_VOICES", "SchedulerBusy", "ServeConfig", "SpeechService", "SpeechStream",
           "TooManyPhonemes", "UnknownVoice", "library_aliases"]


def library_aliases(name: str) -> list[str]:
    """The other names `sonorant.load_voice` accepts for the voice called `name` (en_US-joe-medium for joe)."""
    return sorted(alias for alias, target in registry.voice_aliases().items() if target == name)


class UnknownVoice(VoiceError):
    """A request named a voice the server has not loaded."""

    def __init__(self, name: str, available: Sequence[str]) -> None:
        self.available = list(available)
        super().__init__(f"unknown voice {name!r}: this server has {', '.join(self.available)} "
                         f"(and OpenAI's voice names as aliases of {self.available[0]})")


class TooManyPhonemes(TextError):
    """The input reads as more phoneme ids than the server's limit: the work a request may cost is bounded
    by what the model reads (numbers and symbols spelled out), not only by the characters sent."""

    def __init__(self, ids: int, limit: int) -> None:
        self.ids = ids
        self.limit = limit
        super().__init__(f"input reads as {ids} phoneme ids (numbers, symbols and abbreviations spelled out); this "
                         f"server synthesizes at most {limit} per request (max_phoneme_ids): split the text into "
                         "several requests")


class InputTooLong(TextError):
    """The input text is longer than the server's limit (it is refused, never cut)."""

    def __init__(self, length: int, limit: int) -> None:
        self.length = length
        self.limit = limit
        super().__init__(f"input is {length} characters; this server accepts at most {limit} per request "
                         "(split the text into several requests)")


@dataclass(frozen=True)
class ServeConfig:
    """Limits and batching settings of a speech server."""

    max_chars: int = 4096
    """Longest input text in characters (OpenAI's limit); longer inputs are refused with 413."""
    max_queue: int = 64
    """Most speech requests held at once, by all voices together; more are refused with 503 and Retry-After."""
    max_batch: int = 4
    """Most sentences or decoder windows in one forward pass (token voices: sentences in one decoding loop)."""
    batch_wait_ms: float = 5.0
    """How long an idle server waits for more requests to batch with the first one."""
    max_step_ms: float = 300.0
    """Target time of one forward pass: batches grow only within it (bounds how long new requests wait)."""
    stream: StreamConfig = StreamConfig()
    """Window schedule of streamed responses."""
    retry_after_s: int = 1
    """Seconds a refused client is told to wait (the Retry-After header)."""
    max_body_bytes: int = 256 * 1024
    """Largest HTTP request body; larger bodies are refused with 413 before they are parsed."""
    api_key: str | None = field(default=None, repr=False)
    """Bearer token every /v1 and /metrics request must carry (None: no authentication)."""
    frontend_threads: int = 2
    """Threads that run the text front end (normalization, espeak-ng) beside the model's worker."""
    max_silence_s: float = 120.0
    """Most seconds of silence one request may ask for (SSML breaks and sentence silence together)."""
    max_phoneme_ids: int = 16384
    """Most phoneme ids one request may synthesize, checked before any synthesis starts (413 on HTTP, an
    `error` event on Wyoming). 4096 characters of English read as about 10,000 ids; "9" * 4096 as 49,469."""

    def __post_init__(self) -> None:
        self.scheduler_config()  # checks the scheduler's share (max_batch, max_queue, batch_wait_ms, max_step_ms)
        for name in ("max_chars", "retry_after_s", "max_body_bytes", "frontend_threads", "max_phoneme_ids"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if not self.max_silence_s >= 0:
            raise ConfigError(f"max_silence_s must be >= 0, got {self.max_silence_s!r}")
        if self.api_key is not None:
            if not self.api_key.strip():
                raise ConfigError("the API key is empty")
            if not all("!" <= c <= "~" for c in self.api_key):
                raise ConfigError("the API key must be printable ASCII without spaces (it travels in an HTTP header)")

    def scheduler_config(self) -> SchedulerConfig:
        """The scheduler's share of these settings."""
        return SchedulerConfig(max_batch=self.max_batch, max_queue=self.max_queue, batch_wait_ms=self.batch_wait_ms,
                               stream=self.stream, max_step_ms=self.max_step_ms)


class SpeechStream:
    """One request's audio as it is decoded: `await next()` or `async for` over its pieces."""

    def __init__(self, voice: Voice, streaming: bool, arrival: float, metrics: ServerMetrics) -> None:
        self.voice = voice
        self.sample_rate = voice.sample_rate
        self.streaming = streaming
        self.arrival = arrival
        self.ticket: Ticket | None = None
        self.first_audio: float | None = None
        """`time.monotonic()` when the first piece reached this stream's reader."""
        self.samples = 0
        self.complete = False
        self._metrics = metrics
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Piece | BaseException] = asyncio.Queue()

    def _sink(self, item: Piece | BaseException) -> None:
        """Called on a scheduler's thread; raises RuntimeError once the event loop is gone (the
        scheduler then cancels the request)."""
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    async def next(self) -> Piece:
        """The next piece (raises the error that ended the request, if any)."""
        item = await self._queue.get()
        if isinstance(item, BaseException):
            raise item
        if self.ticket is not None:
            self.ticket.read(len(item.samples))
        now = time.monotonic()
        if self.first_audio is None:
            self.first_audio = now
            if self.streaming:
                self._metrics.ttfa.observe(now - self.arrival)
        self.samples += len(item.samples)
        if item.is_last:
            self.complete = True
            seconds = self.samples / self.sample_rate
            self._metrics.audio_seconds.inc(seconds)
            if seconds > 0:
                self._metrics.rtf.observe((now - self.arrival) / seconds)
        return item

    async def __aiter__(self) -> AsyncIterator[Piece]:
        while not self.complete:
            yield await self.next()

    def cancel(self) -> None:
        """Drop the rest of this request's work (a no-op once it is complete)."""
        if self.ticket is not None and not self.complete:
            self.ticket.cancel()


class SpeechService:
    """Preloaded voices, limits and the schedulers, shared by every front end of a server."""

    def __init__(self, voices: Sequence[Voice], config: ServeConfig | None = None,
                 metrics: ServerMetrics | None = None) -> None:
        if not voices:
            raise ConfigError("a speech server needs at least one voice")
        self.config = config or ServeConfig()
        self.metrics = metrics or ServerMetrics()
        self.voices: dict[str, Voice] = {}
        for v in voices:
            if v.name in self.voices:
                raise ConfigError(f"two voices are named {v.name!r}; load each voice once")
            self.voices[v.name] = v
        self.default_voice = voices[0]
        self.scheduler = Scheduler(self.config.scheduler_config(), observer=self.metrics)
        """The scheduler of the stage-graph voices."""
        self.token_schedulers: dict[str, TokenScheduler] = {
            name: TokenScheduler(self.config.scheduler_config(), observer=self.metrics)
            for name, v in self.voices.items() if v.engine.spec.tokens is not None}
        """Each token voice's scheduler (its own worker thread: a token engine is not thread safe)."""
        self.metrics.track_queue(lambda: self.depth)
        self._frontend: ThreadPoolExecutor | None = None

    @property
    def schedulers(self) -> list[Scheduler | TokenScheduler]:
        """Every scheduler of this service."""
        return [self.scheduler, *self.token_schedulers.values()]

    def scheduler_for(self, voice: Voice) -> Scheduler | TokenScheduler:
        """The scheduler that runs `voice`'s requests."""
        return self.token_schedulers.get(voice.name, self.scheduler)

    @property
    def depth(self) -> int:
        """Speech requests held now by all schedulers (running or waiting)."""
        return sum(s.depth for s in self.schedulers)

    @property
    def running(self) -> bool:
        """Whether every scheduler's worker thread is alive."""
        return all(s.running for s in self.schedulers)

    def has_room(self) -> bool:
        """Whether a new request would be admitted now (`max_queue` counts every voice's requests)."""
        return self.depth < self.config.max_queue

    def observe(self, observer: SchedulerObserver) -> None:
        """Report every scheduler's passes, pieces and finished requests to `observer` (instead of the
        metrics alone; an observer that wants the metrics too forwards to them)."""
        for s in self.schedulers:
            s.observer = observer

    def start(self) -> None:
        """Start the schedulers and the front-end threads (idempotent)."""
        if self._frontend is None:
            self._frontend = ThreadPoolExecutor(self.config.frontend_threads, thread_name_prefix="sonorant-frontend")
        for s in self.schedulers:
            s.start()

    def close(self) -> None:
        """Stop the schedulers (running requests end with an error) and the front-end threads."""
        for s in self.schedulers:
            s.close()
        if self._frontend is not None:
            self._frontend.shutdown(wait=False, cancel_futures=True)
            self._frontend = None

    def find_voice(self, name: object) -> Voice:
        """The loaded voice called `name`, or named by an alias `sonorant.load_voice` accepts (OpenAI's voice
        names mean the default voice); UnknownVoice if none. Names never reach the file system."""
        if isinstance(name, str):
            for candidate in (name, registry.voice_aliases().get(name)):
                if candidate in self.voices:
                    return self.voices[candidate]
            if name in OPENAI_VOICES:
                return self.default_voice
        raise UnknownVoice(str(name)[:100], list(self.voices))

    def check_input(self, text: object) -> str:
        """`text` if it is a string within the character limit; TextError or InputTooLong otherwise."""
        if not isinstance(text, str):
            raise TextError(f"input must be a string, got {type(text).__name__}")
        if len(text) > self.config.max_chars:
            raise InputTooLong(len(text), self.config.max_chars)
        return text

    async def speak(self, voice: Voice, text: str, cfg: SynthesisConfig | None = None, *,
                    streaming: bool) -> SpeechStream:
        """Queue `text` for synthesis; returns its stream at once (pieces follow as they are decoded).

        Raises InputTooLong, TooManyPhonemes, TextError or ConfigError for bad input, SchedulerBusy when the
        queue is full; every check is made before any synthesis starts.
        """
        arrival = time.monotonic()
        self.check_input(text)
        if not self.has_room():
            raise SchedulerBusy(self._busy())
        if self._frontend is None:
            raise ConfigError("the speech service is not started")
        resolved = voice.resolve(cfg)
        loop = asyncio.get_running_loop()
        _, utterances, gaps = await loop.run_in_executor(self._frontend, voice.prepare, text, resolved)
        ids = sum(len(u.ids) for u in utterances)
        if ids > self.config.max_phoneme_ids:
            raise TooManyPhonemes(ids, self.config.max_phoneme_ids)
        if sum(gaps) > self.config.max_silence_s:
            raise TextError(f"the input asks for {sum(gaps):.1f} s of silence; this server allows at most "
                            f"{self.config.max_silence_s:g} s per request")
        stream = SpeechStream(voice, streaming, arrival, self.metrics)
        gap_samples = [int(round(g * voice.sample_rate)) for g in gaps]
        if not self.has_room():  # checked again: others may have been queued while the text was prepared
            raise SchedulerBusy(self._busy())
        stream.ticket = self.scheduler_for(voice).submit(voice.engine, utterances, gap_samples,
                                                         sample_rate=voice.sample_rate, streaming=streaming,
                                                         sink=stream._sink)
        return stream

    def _busy(self) -> str:
        return f"server busy: {self.depth} requests in progress (limit {self.config.max_queue})"

    def warmup(self) -> None:
        """Build every graph a request can need, for each voice (compiling runtimes; others return at once);
        token voices build their greedy/sampling loop and codec graphs for every batch size."""
        sizes = tuple(range(1, self.config.max_batch + 1))
        for v in self.voices.values():
            _LOG.info("warming up voice %s", v.name)
            v.engine.warmup(batch_sizes=sizes, stream=self.config.stream)
