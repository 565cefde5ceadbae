"""The OpenAI-compatible HTTP API (FastAPI).

    POST /v1/audio/speech   {"model", "input", "voice", "response_format", "speed", "stream_format"}
    GET  /v1/voices         the loaded voices (OpenAI's voice names are aliases of the first)
    GET  /v1/models         model names the API answers to (any model name is accepted)
    GET  /health            liveness, voices and queue depth (no key needed)
    GET  /metrics           Prometheus text

Every response streams by default, as OpenAI's API does: the body is sent chunked as the audio is
decoded, in any `response_format` (see `encode` for what each format's stream looks like; a streamed WAV's
header says "length unknown"). `stream_format` picks the shape: "audio" (the default: the bytes of the
file as they are produced) or "sse" (OpenAI's `speech.audio.delta` / `speech.audio.done` events with
base64 audio). The extension `"stream": false` asks for the whole file instead, sent once complete with
exact headers (its length, an MP3's gapless header, a FLAC's sample count).
`speed` maps to length scale: the voice's own length scale divided by `speed`.
Extensions beside OpenAI's fields: `stream`, `seed`, `speaker`, `knobs` (the voice family's controls by name),
`noise_scale` and `noise_w` (VITS's knobs of those names), `sentence_silence`, and for token voices the
decoding settings `decoding` (greedy, sample, beam, speculative), `temperature`, `top_k`, `top_p`, `beams`
and `max_tokens` (other families ignore them, as `SynthesisConfig` does).

Errors use OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`: 400 bad settings or text,
401 missing or wrong key, 404 unknown voice (the message lists the voices), 413 input over the
character or phoneme limit or body over the size limit, 422 malformed JSON, fields or encoding (the body
must be UTF-8) or a sentence the model did not end within its bound (`decode_limit`: a token voice's
`max_tokens`; raise it or split the text), 500 `synthesis_error` for other failures of the model on the
input, 503 with `Retry-After` when the queue is full. A client that disconnects cancels its request's
remaining work. With an API key set, every path but /health needs it, and the interactive docs (/docs,
/redoc, /openapi.json) are off. A failure after a streamed response's first audio ends an SSE stream
with an `error` event and cuts a raw audio stream (an incomplete body).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from .. import __version__
from ..audio import encode_audio
from ..config import SynthesisConfig
from ..engine.scheduler import Piece, SchedulerBusy, SchedulerClosed
from ..errors import ConfigError, DecodeLimitError, PhonemizerError, SonorantError, TextError
from .encode import MEDIA_TYPES, available_formats, stream_encoder
from .guard import ApiError, Guard, error_body
from .service import (
    OPENAI_VOICES,
    InputTooLong,
    SpeechService,
    SpeechStream,
    TooManyPhonemes,
    UnknownVoice,
    library_aliases,
)

_LOG = logging.getLogger(__name__)

MODELS = ("sonorant", "tts-1", "tts-1-hd", "gpt-4o-mini-tts")
"""Model names listed by /v1/models (any name is accepted: the voice decides how speech sounds)."""
_DISCONNECT_POLL_S = 0.25
_INLINE_FORMATS = frozenset({"pcm", "wav"})
"""Formats cheap enough to encode on the event loop; the others are encoded on a worker thread."""

Number = Annotated[float, Field(strict=True)]
"""A JSON number (true and false are not numbers here, nor are numeric strings)."""


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
    speed: Number = Field(1.0, ge=0.25, le=4.0)
    stream_format: Literal["audio", "sse"] | None = None
    stream: StrictBool = Field(True, description="false: send the whole file once complete, with exact headers")
    instructions: str | None = Field(None, description="accepted and ignored (as by OpenAI's tts-1)")
    seed: StrictInt | None = Field(None, ge=0, le=2**31 - 1)
    speaker: StrictInt | StrictStr | None = None
    knobs: dict[str, Number] | None = Field(None, max_length=16,
                                           description="the voice family's controls by name (GET /v1/voices)")
    noise_scale: Number | None = Field(None, description="VITS voices: the noise_scale knob")
    noise_w: Number | None = Field(None, description="VITS voices: the noise_w knob")
    sentence_silence: Number = 0.0
    decoding: Literal["greedy", "sample", "beam", "speculative"] = Field(
        "greedy", description="token voices: how tokens are picked (greedy, sample, beam, speculative)")
    temperature: Number = Field(1.0, ge=0.0, le=100.0, description="token voices: sample/speculative temperature")
    top_k: StrictInt = Field(0, ge=0, le=1 << 20, description="token voices: sample among the k likeliest (0: all)")
    top_p: Number = Field(1.0, gt=0.0, le=1.0, description="token voices: nucleus sampling mass (1: all)")
    beams: StrictInt = Field(4, ge=1, le=64, description="token voices: beam width of decoding=beam")
    max_tokens: StrictInt | None = Field(None, ge=1, le=1 << 20,
                                         description="token voices: most tokens per sentence (None: the voice's bound)")


def _error_response(err: ApiError) -> JSONResponse:
    return JSONResponse(error_body(err.message, err.code, err.param, err.status), err.status, headers=err.headers)


class _ClientGone(Exception):
    """The client disconnected while its request was running."""


def create_app(service: SpeechService) -> ASGIApp:
    """The ASGI app of the HTTP API over `service` (started on the app's startup if it is not yet)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.start()
        yield

    docs = {} if service.config.api_key is None else {"docs_url": None, "redoc_url": None, "openapi_url": None}
    app = FastAPI(title="sonorant", version=__version__, lifespan=lifespan, **docs,
                  description="OpenAI-compatible text-to-speech with streaming and cross-request batching.")
    formats = available_formats(v.sample_rate for v in service.voices.values())
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
        alive = service.running
        body = {"status": "ok" if alive else "stopped", "voices": list(service.voices),
                "queue_depth": service.depth, "max_queue": service.config.max_queue,
                "max_chars": service.config.max_chars, "max_phoneme_ids": service.config.max_phoneme_ids,
                "max_body_bytes": service.config.max_body_bytes}
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
            data.append({"id": name, "object": "voice", "name": name, "family": v.family, "language": v.language,
                         "quality": v.quality, "sample_rate": v.sample_rate,
                         "speakers": sorted(v.speakers, key=v.speakers.get),
                         "knobs": [{"name": k.name, "default": k.default, "min": k.low, "max": k.high, "doc": k.doc}
                                   for k in v.knobs],
                         "default": default,
                         "aliases": library_aliases(name) + (list(OPENAI_VOICES) if default else [])})
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
        knobs = dict(body.knobs or {})
        knobs.update({k: v for k, v in (("noise_scale", body.noise_scale), ("noise_w", body.noise_w)) if v is not None})
        cfg = SynthesisConfig(knobs=knobs, speed=body.speed, speaker=body.speaker, seed=body.seed,
                              sentence_silence=body.sentence_silence, decoding=body.decoding,
                              temperature=body.temperature, top_k=body.top_k, top_p=body.top_p, beams=body.beams,
                              max_tokens=body.max_tokens)
        streamed = body.stream
        if not streamed and body.stream_format is not None:
            raise ApiError(422, f"stream_format {body.stream_format!r} streams the response; leave it out to get the "
                                "whole file with \"stream\": false", param="stream_format", code="invalid_request")
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
        except SonorantError as exc:  # the model failed on this input (a token bound hit, tokens its codec refuses)
            stream.cancel()
            raise _synthesis_error(exc, metrics) from None
        except Exception as exc:
            stream.cancel()
            metrics.errors.labels("internal").inc()
            _LOG.exception("speech request failed")
            raise ApiError(500, f"synthesis failed: {type(exc).__name__}", code="internal_error") from None
        sse = body.stream_format == "sse"
        media = "text/event-stream" if sse else MEDIA_TYPES[fmt]
        return StreamingResponse(_stream_body(stream, first, fmt, sse, len(body.input), metrics), media_type=media,
                                 headers={**headers, "Cache-Control": "no-cache"})

    return Guard(app, service)


async def _start(service: SpeechService, voice: Any, text: str, cfg: SynthesisConfig, streamed: bool) -> SpeechStream:
    """Queue the request, mapping refusals to HTTP errors."""
    metrics = service.metrics
    try:
        return await service.speak(voice, text, cfg, streaming=streamed)
    except InputTooLong as exc:
        metrics.errors.labels("too_long").inc()
        raise ApiError(413, str(exc), code="input_too_long", param="input") from None
    except TooManyPhonemes as exc:
        metrics.errors.labels("too_long").inc()
        raise ApiError(413, str(exc), code="too_many_phonemes", param="input") from None
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
    inline = fmt in _INLINE_FORMATS

    def encode(samples: np.ndarray, last: bool) -> bytes:
        data = encoder.feed(samples)
        return data + encoder.finish() if last else data

    piece = first
    try:
        while True:
            if inline:
                data = encode(piece.samples, piece.is_last)
            else:
                data = await run_in_threadpool(encode, piece.samples, piece.is_last)
            if data:
                yield _sse("speech.audio.delta", audio=base64.b64encode(data).decode()) if sse else data
            if piece.is_last:
                break
            try:
                piece = await stream.next()
            except SonorantError as exc:  # after audio went out: SSE says so in an event, a raw stream is cut
                err = _synthesis_error(exc, metrics)
                if not sse:
                    _LOG.warning("a streamed response failed part way (%s); the connection is closed without its "
                                 "end", err.message)
                    raise
                yield _sse("error", error=error_body(err.message, err.code, err.param, err.status)["error"])
                return
        if sse:
            seconds = round(stream.samples / stream.sample_rate, 3)
            yield _sse("speech.audio.done", usage={"input_tokens": chars, "output_tokens": 0, "total_tokens": chars},
                       audio_seconds=seconds)
    except SonorantError:
        raise  # counted and logged above
    except Exception:
        metrics.errors.labels("stream_aborted").inc()
        _LOG.exception("a streamed response failed part way; the connection is closed without its end")
        raise
    finally:
        stream.cancel()


def _synthesis_error(exc: SonorantError, metrics: Any) -> ApiError:
    """The API error of a request whose synthesis failed on its input: 422 `decode_limit` when an
    autoregressive model did not end a sentence within its bound (the message names the sentence and the
    bound; the client can raise it, e.g. a token voice's `max_tokens`, or split the text), else 500 with
    the message."""
    if isinstance(exc, DecodeLimitError):
        metrics.errors.labels("decode_limit").inc()
        return ApiError(422, str(exc), code="decode_limit")
    metrics.errors.labels("synthesis").inc()
    _LOG.warning("synthesis failed: %s", exc)
    return ApiError(500, f"synthesis failed: {exc}", code="synthesis_error")


def _sse(kind: str, **fields: Any) -> bytes:
    return f"data: {json.dumps({'type': kind, **fields})}\n\n".encode()


__all__ = ["MODELS", "ApiError", "SpeechRequest", "create_app", "error_body"]
