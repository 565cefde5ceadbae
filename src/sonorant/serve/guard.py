"""The outermost layer of the HTTP API: OpenAI-shaped errors, the API key, and the request body's size
and encoding, all checked before FastAPI parses anything."""

from __future__ import annotations

import hmac
import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .service import SpeechService

OPEN_PATHS = frozenset({"/health"})
"""Paths served without the API key (liveness probes); every other path needs it when a key is set."""
ENDPOINTS = frozenset({"/v1/audio/speech", "/v1/voices", "/v1/models", "/health", "/metrics"})
"""Paths counted under their own name in the request metrics (the rest count as "other")."""


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


class Guard:
    """Counts responses, checks the API key before anything is read, and refuses bodies over the size
    limit (reading at most that many bytes) or not in UTF-8 (JSON's encoding)."""

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
            endpoint = path if path in ENDPOINTS else "other"
            self.service.metrics.requests.labels(endpoint, str(status[0])).inc()

    async def _guarded(self, scope: Scope, receive: Receive, send: Send, path: str) -> bool:
        """Serve the request; False if the client disconnected before its body was read."""
        cfg = self.service.config
        errors = self.service.metrics.errors
        if cfg.api_key is not None and path not in OPEN_PATHS and not authorized(scope, cfg.api_key):
            errors.labels("unauthorized").inc()
            message = "missing or wrong API key: send the header 'Authorization: Bearer <key>'"
            await send_error(send, ApiError(401, message, code="invalid_api_key",
                                            headers={"WWW-Authenticate": "Bearer"}))
            return True
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return True
        limit = cfg.max_body_bytes
        too_big = ApiError(413, f"request body is larger than {limit} bytes", code="body_too_large")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            errors.labels("too_large").inc()
            await send_error(send, too_big)
            return True
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return False
            body += message.get("body", b"")
            if len(body) > limit:
                errors.labels("too_large").inc()
                await send_error(send, too_big)
                return True
            if not message.get("more_body", False):
                break
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            errors.labels("invalid").inc()
            await send_error(send, ApiError(422, f"request body is not UTF-8 (byte 0x{body[exc.start]:02x} at offset "
                                                 f"{exc.start}): send JSON encoded as UTF-8", code="invalid_request"))
            return True
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
        return True


def authorized(scope: Scope, key: str) -> bool:
    """Whether the request carries `Authorization: Bearer <key>`."""
    header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode("latin-1"), key.encode("latin-1"))


async def send_error(send: Send, err: ApiError) -> None:
    """Answer with `err` straight from the ASGI layer."""
    body = json.dumps(error_body(err.message, err.code, err.param, err.status)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in err.headers.items()]
    await send({"type": "http.response.start", "status": err.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
