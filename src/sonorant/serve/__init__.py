"""sonorant's speech server: an OpenAI-compatible HTTP API with streaming and cross-request batching,
and a Wyoming protocol server, over shared schedulers (`sonorant serve`, the `serve` extra).

    from sonorant.serve import ServeConfig, SpeechServer, SpeechService
    service = SpeechService([sonorant.load_voice()], ServeConfig(api_key="secret"))
    with SpeechServer(service, port=0) as server:   # serves on a background thread
        ...                                          # POST {server.url}/v1/audio/speech

Modules: `service` (voices, limits, asyncio face of the schedulers), `http` (FastAPI app), `wyoming`,
`server` (uvicorn + Wyoming on one loop), `metrics` (Prometheus), `encode` (streamed audio formats),
`cli` (`sonorant serve`), `loadtest` (`python -m sonorant.serve.loadtest`). The schedulers themselves
are `sonorant.engine.scheduler` (stage-graph voices) and `sonorant.engine.token_scheduler` (token
voices). Names are imported lazily, so importing this package needs no web stack.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "ServeConfig": ".service",
    "SpeechService": ".service",
    "SpeechServer": ".server",
    "ServerMetrics": ".metrics",
    "create_app": ".http",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
