"""Reading Wyoming events with bounds: a client decides how many bytes it declares, never how many the
server holds. An event is a JSON header line (`type`, optional `data`, `data_length`, `payload_length`),
then `data_length` bytes of JSON data merged into `data`, then `payload_length` bytes of payload.

`read_event` refuses a header line, data or payload over its limit before reading it, and reports an
event it cannot understand; both as `ProtocolError`, which says whether the connection can go on (the
bytes of the bad event were all consumed) or must close (a refused size, or a header that is not JSON,
after which the next event's start is unknown).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from wyoming.event import Event

MAX_HEADER_BYTES = 64 * 1024
"""Longest event header line (the JSON before the newline); Wyoming's headers are a few hundred bytes."""


class ProtocolError(Exception):
    """A client broke the protocol; `fatal` when the connection cannot go on."""

    def __init__(self, message: str, *, fatal: bool, code: str = "invalid_event") -> None:
        super().__init__(message)
        self.fatal = fatal
        self.code = code


@dataclass(frozen=True)
class Limits:
    """Most bytes one event may carry in each part."""

    header: int = MAX_HEADER_BYTES
    data: int = 256 * 1024
    payload: int = 256 * 1024


async def read_event(reader: asyncio.StreamReader, limits: Limits) -> Event | None:
    """The next event, or None at the end of the stream. The reader's own limit (`start_server(limit=)`)
    must be at least `limits.header`."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise ProtocolError("the connection ended inside an event header", fatal=True) from None
        return None
    except asyncio.LimitOverrunError:
        raise ProtocolError(f"event header is longer than {limits.header} bytes", fatal=True,
                            code="too_large") from None
    if len(line) > limits.header + 1:
        raise ProtocolError(f"event header is longer than {limits.header} bytes", fatal=True, code="too_large")
    try:
        header = json.loads(line)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"event header is not JSON: {exc}", fatal=True) from None
    if not isinstance(header, dict):
        raise ProtocolError(f"event header must be a JSON object, not {type(header).__name__}", fatal=True)
    data_length = _length(header, "data_length", limits.data)
    payload_length = _length(header, "payload_length", limits.payload)

    problems = []
    kind = header.get("type")
    if not isinstance(kind, str) or not kind:
        problems.append("event header needs 'type', a non-empty string")
    data: Any = header.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(f"event 'data' must be a JSON object, not {type(data).__name__}")
    if data_length:
        extra = await reader.readexactly(data_length)
        try:
            more = json.loads(extra)
        except (UnicodeDecodeError, ValueError) as exc:
            more = None
            problems.append(f"event data is not JSON: {exc}")
        else:
            if not isinstance(more, dict):
                problems.append(f"event data must be a JSON object, not {type(more).__name__}")
        if not problems:
            data = {**data, **more}
    payload = await reader.readexactly(payload_length) if payload_length else None
    if problems:
        raise ProtocolError("; ".join(problems), fatal=False)
    return Event(type=kind, data=data, payload=payload)


def _length(header: dict[str, Any], key: str, limit: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError(f"event {key!r} must be a non-negative integer, got {value!r}", fatal=True)
    if value > limit:
        raise ProtocolError(f"event {key} {value} is over this server's limit of {limit} bytes; the connection is "
                            "closed", fatal=True, code="too_large")
    return value
