"""The OpenAI-compatible HTTP API (FastAPI).

    POST /v1/audio/speech   {"model", "input", "voice", "response_format", "speed", "stream_format"}
    GET  /v1/voices         the loaded voices (OpenAI's voice names are aliases of the first)
    GET  /v1/models         model names the API answers to (any model name is accepted)
    GET  /health            liveness, voices and queue depth (no key needed)
    GET  /metrics           Prometheus text

`pcm` responses always stream; `wav` and `opus` stream when `stream_format` is given ("audio": the
bytes of the file as they are produced, "sse": OpenAI's `speech.audio.delta` / `speech.audio.done`
events with base64 audio); otherwise, and for `mp3` and `flac`, the response is the whole file with
exact headers. `speed` maps to length scale: the voice's own length scale divided by `speed`.
Extensions beside OpenAI's fields: `seed`, `speaker`, `noise_scale`, `noise_w`, `sentence_silence`.

Errors use OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`: 400 bad settings or text,
401 missing or wrong key, 404 unknown voice (the message lists the voices), 413 input over the
character limit or body over the size limit, 422 malformed JSON or fields, 503 with `Retry-After` when
the queue is full. A client that disconnects cancels its request's remaining work.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..audio import encode_audio
from ..config import SynthesisConfig
from ..engine.scheduler import Piece, SchedulerBusy, SchedulerClosed
from ..errors import ConfigError, PhonemizerError, TextError
from .encode import MEDIA_TYPES, available_formats, stream_encoder
from .service import OPENAI_VOICES, InputTooLong, SpeechService, SpeechStream, UnknownVoice

_LOG = logging.getLogger(__name__)

MODELS = ("sonorant", "tts-1", "tts-1-hd", "gpt-4o-mini-tts")
"""Model names listed by /v1/models (any name is accepted: the voice decides how speech sounds)."""
_ENDPOINTS = frozenset({"/v1/audio/speech", "/v1/voices", "/v1/models", "/health", "/metrics"})
_DISCONNECT_POLL_S = 0.25


class VoiceRef(BaseModel):
    """OpenAI's custom-voice form: {"id": "name"}."""

    id: str = Field(max_length=200)


class SpeechRequest(BaseModel):
    """The body of POST /v1/audio/speech."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field("sonorant", max_length=200)
    input: str
    voice: str | VoiceRef
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: float = Field(1.0, ge=0.25, le=4.0)
    stream_format: Literal["audio", "sse"] | None = None
    instructions: str | None = Field(None, description="accepted and ignored (as by OpenAI's tts-1)")
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    speaker: int | str | None = None
    noise_scale: float | None = None
    noise_w: float | None = None
    sentence_silence: float = 0.0


class ApiError(Exception):
    """An error answered in OpenAI's shape."""

    def __init__(self, status: int, message: str, *, code: str | None = None, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}


def error_body(message: str, code: str | None = None, param: str | None = None, status: int = 400) -> dict[str, Any]:
    """OpenAI's error object."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _error_response(err: ApiError) -> JSONResponse:
    return JSONResponse(error_body(err.message, err.code, err.param, err.status), err.status, headers=err.headers)


class _ClientGone(Exception):
    """The client disconnected while its request was running."""


class _Guard:
    """Outermost ASGI layer: counts responses, checks the API key before anything is read, and refuses
    bodies over the size limit (reading at most that many bytes)."""

    def __init__(self, app: ASGIApp, service: SpeechService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        status = [500]

        async def counted_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            if not await self._guarded(scope, receive, counted_send, path):
                status[0] = 499  # the client left before its body arrived
        finally:
            endpoint = path if path in _ENDPOINTS else "other"
            self.service.metrics.requests.labels(endpoint, str(status[0])).inc()

    async def _guarded(self, scope: Scope, receive: Receive, send: Send, path: str) -> bool:
        """Serve the request; False if the client disconnected before its body was read."""
        cfg = self.service.config
        if cfg.api_key is not None and (path.startswith("/v1/") or path == "/metrics"):
            if not _authorized(scope, cfg.api_key):
                self.service.metrics.errors.labels("unauthorized").inc()
                await _send(send, ApiError(401, "missing or wrong API key: send the header 'Authorization: Bearer <key>'",
                                           code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"}))
                return True
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return True
        limit = cfg.max_body_bytes
        too_big = ApiError(413, f"request body is larger than {limit} bytes", code="body_too_large")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            self.service.metrics.errors.labels("too_large").inc()
            await _send(send, too_big)
            return True
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return False
            body += message.get("body", b"")
            if len(body) > limit:
                self.service.metrics.errors.labels("too_large").inc()
                await _send(send, too_big)
                return True
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
        return True


def _authorized(scope: Scope, key: str) -> bool:
    header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), key.encode())


async def _send(send: Send, err: ApiError) -> None:
    body = json.dumps(error_body(err.message, err.code, err.param, err.status)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in err.headers.items()]
    await send({"type": "http.response.start", "status": err.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def create_app(service: SpeechService) -> ASGIApp:
    """The ASGI app of the HTTP API over `service` (started on the app's startup if it is not yet)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.start()
        yield

    app = FastAPI(title="sonorant", version=__version__, lifespan=lifespan,
                  description="OpenAI-compatible text-to-speech with streaming and cross-request batching.")
    formats = available_formats()
    metrics = service.metrics

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        metrics.errors.labels("invalid").inc()
        problems = []
        param = None
        for e in exc.errors():
            loc = [str(x) for x in e.get("loc", ()) if x != "body"]
            if e.get("type") == "json_invalid":
                problems.append(f"request body is not valid JSON ({e.get('ctx', {}).get('error', e.get('msg'))})")
            else:
                param = param or (loc[0] if loc else None)
                problems.append(f"{'.'.join(loc) or 'body'}: {e.get('msg')}")
        return _error_response(ApiError(422, "; ".join(problems) or "invalid request", code="invalid_request",
                                        param=param))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error_response(ApiError(exc.status_code, str(exc.detail), headers=dict(exc.headers or {})))

    @app.get("/health")
    async def health() -> JSONResponse:
        alive = service.scheduler.running
        body = {"status": "ok" if alive else "stopped", "voices": list(service.voices),
                "queue_depth": service.scheduler.depth, "max_queue": service.config.max_queue,
                "max_chars": service.config.max_chars, "max_body_bytes": service.config.max_body_bytes}
        return JSONResponse(body, 200 if alive else 503)

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list",
                "data": [{"id": m, "object": "model", "created": 0, "owned_by": "sonorant"} for m in MODELS]}

    @app.get("/v1/voices")
    async def voices() -> dict[str, Any]:
        data = []
        for name, v in service.voices.items():
            default = v is service.default_voice
            data.append({"id": name, "object": "voice", "name": name, "language": v.language, "quality": v.quality,
                         "sample_rate": v.sample_rate, "speakers": sorted(v.speakers, key=v.speakers.get),
                         "default": default, "aliases": list(OPENAI_VOICES) if default else []})
        return {"object": "list", "data": data, "formats": formats}

    @app.post("/v1/audio/speech")
    async def speech(body: SpeechRequest, request: Request) -> Response:
        fmt = body.response_format
        if fmt not in formats:
            raise ApiError(400, f"response_format {fmt!r} cannot be encoded by this server; use one of "
                                f"{', '.join(formats)}", param="response_format", code="unsupported_format")
        name = body.voice if isinstance(body.voice, str) else body.voice.id
        try:
            voice = service.find_voice(name)
        except UnknownVoice as exc:
            metrics.errors.labels("unknown_voice").inc()
            raise ApiError(404, str(exc), code="voice_not_found", param="voice") from None
        cfg = SynthesisConfig(length_scale=voice.config.length_scale / body.speed, noise_scale=body.noise_scale,
                              noise_w=body.noise_w, speaker=body.speaker, seed=body.seed,
                              sentence_silence=body.sentence_silence)
        streamed = fmt == "pcm" or body.stream_format is not None
        stream = await _start(service, voice, body.input, cfg, streamed)
        ticket = stream.ticket
        headers = {"X-Sonorant-Request": str(ticket.id if ticket else ""),
                   "X-Sonorant-Seed": str(ticket.seed if ticket else ""),
                   "X-Sonorant-Sample-Rate": str(voice.sample_rate), "X-Sonorant-Voice": voice.name}
        try:
            first = await _next_piece(stream, request)
            if not streamed:
                parts = [first.samples]
                while not stream.complete:
                    parts.append((await _next_piece(stream, request)).samples)
                audio = np.concatenate(parts)
                data = await run_in_threadpool(encode_audio, audio, voice.sample_rate, fmt)
                return Response(data, media_type=MEDIA_TYPES[fmt], headers=headers)
        except _ClientGone:
            metrics.errors.labels("client_gone").inc()
            return Response(status_code=499)
        except (SchedulerClosed, SchedulerBusy) as exc:
            stream.cancel()
            raise ApiError(503, str(exc), code="unavailable",
                           headers={"Retry-After": str(service.config.retry_after_s)}) from None
        except Exception as exc:
            stream.cancel()
            metrics.errors.labels("internal").inc()
            _LOG.exception("speech request failed")
            raise ApiError(500, f"synthesis failed: {type(exc).__name__}", code="internal_error") from None
        sse = body.stream_format == "sse"
        media = "text/event-stream" if sse else MEDIA_TYPES[fmt]
        return StreamingResponse(_stream_body(stream, first, fmt, sse, len(body.input), metrics), media_type=media,
                                 headers={**headers, "Cache-Control": "no-cache"})

    return _Guard(app, service)


async def _start(service: SpeechService, voice: Any, text: str, cfg: SynthesisConfig, streamed: bool) -> SpeechStream:
    """Queue the request, mapping refusals to HTTP errors."""
    metrics = service.metrics
    try:
        return await service.speak(voice, text, cfg, streaming=streamed)
    except InputTooLong as exc:
        metrics.errors.labels("too_long").inc()
        raise ApiError(413, str(exc), code="input_too_long", param="input") from None
    except SchedulerBusy as exc:
        metrics.errors.labels("busy").inc()
        raise ApiError(503, f"{exc}; retry in {service.config.retry_after_s} s", code="server_busy",
                       headers={"Retry-After": str(service.config.retry_after_s)}) from None
    except PhonemizerError as exc:
        metrics.errors.labels("phonemizer").inc()
        raise ApiError(500, str(exc), code="phonemizer_error") from None
    except (TextError, ConfigError) as exc:
        metrics.errors.labels("bad_input").inc()
        raise ApiError(400, str(exc), code="invalid_input") from None
    except Exception as exc:  # a bug in the front end: answer 500, keep serving
        metrics.errors.labels("internal").inc()
        _LOG.exception("could not prepare a speech request")
        raise ApiError(500, f"could not prepare the text: {type(exc).__name__}", code="internal_error") from None


async def _next_piece(stream: SpeechStream, request: Request) -> Piece:
    """The stream's next piece; cancels the request and raises _ClientGone if the client disconnects."""
    task = asyncio.ensure_future(stream.next())
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=_DISCONNECT_POLL_S)
            if done:
                return task.result()
            if await request.is_disconnected():
                stream.cancel()
                raise _ClientGone()
    finally:
        if not task.done():
            task.cancel()


async def _stream_body(stream: SpeechStream, first: Piece, fmt: str, sse: bool, chars: int,
                       metrics: Any) -> AsyncIterator[bytes]:
    """The response body of a streamed request; leaving early (a disconnect) cancels the request."""
    encoder = stream_encoder(fmt, stream.sample_rate)
    piece = first
    try:
        while True:
            data = encoder.feed(piece.samples)
            if piece.is_last:
                data += encoder.finish()
            if data:
                yield _sse("speech.audio.delta", audio=base64.b64encode(data).decode()) if sse else data
            if piece.is_last:
                break
            piece = await stream.next()
        if sse:
            seconds = round(stream.samples / stream.sample_rate, 3)
            yield _sse("speech.audio.done", usage={"input_tokens": chars, "output_tokens": 0, "total_tokens": chars},
                       audio_seconds=seconds)
    except Exception:
        metrics.errors.labels("stream_aborted").inc()
        _LOG.exception("a streamed response failed part way; the connection is closed without its end")
        raise
    finally:
        stream.cancel()


def _sse(kind: str, **fields: Any) -> bytes:
    return f"data: {json.dumps({'type': kind, **fields})}\n\n".encode()


__all__ = ["MODELS", "ApiError", "SpeechRequest", "create_app", "error_body"]
