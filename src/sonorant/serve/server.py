"""Run the HTTP API (uvicorn) and, optionally, the Wyoming server on one event loop over one service:
in the foreground (`sonorant serve`) or on a background thread (tests, the load test)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterator

from ..errors import ConfigError
from .service import SpeechService

_LOG = logging.getLogger(__name__)


class SpeechServer:
    """HTTP on `host:port` (port 0 picks a free one) plus Wyoming on `wyoming` (tcp://HOST:PORT or unix://PATH)."""

    def __init__(self, service: SpeechService, host: str = "127.0.0.1", port: int = 8000, wyoming: str | None = None,
                 log_level: str = "warning") -> None:
        self.service = service
        self.host = host
        self.wyoming_uri = wyoming
        self.log_level = log_level
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            self._socket = socket.create_server((host, port), family=family)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self.port: int = self._socket.getsockname()[1]
        self.wyoming_address: tuple[str, int] | str | None = None
        """Where the Wyoming server listens, once started: (host, port) or a socket path."""
        self._uvicorn = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        """Base URL of the HTTP API (without /v1)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def serve(self) -> None:
        """Serve until stopped (`stop()`, or SIGINT/SIGTERM in the main thread)."""
        import uvicorn

        from .http import create_app

        self.service.start()
        wyoming_server = None
        try:
            if self.wyoming_uri:
                from .wyoming import start_wyoming

                wyoming_server = await start_wyoming(self.service, self.wyoming_uri)
                self.wyoming_address = wyoming_server.address
                _LOG.warning("Wyoming server on %s", self.wyoming_address)
            config = uvicorn.Config(create_app(self.service), log_level=self.log_level, access_log=False,
                                    lifespan="on", ws="none", timeout_graceful_shutdown=5)
            self._uvicorn = _uvicorn_server_class()(config)
            watcher = asyncio.create_task(self._signal_ready())
            try:
                with self._stop_on_signals():
                    await self._uvicorn.serve(sockets=[self._socket])
            finally:
                watcher.cancel()
        finally:
            if wyoming_server is not None:
                await wyoming_server.close()
            self.service.close()
            self._socket.close()
            _LOG.info("speech server on %s stopped", self.url)

    @contextlib.contextmanager
    def _stop_on_signals(self) -> Iterator[None]:
        """In the main thread, SIGINT and SIGTERM start a graceful stop (then `serve` returns normally)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)
        for sig in signals:
            loop.add_signal_handler(sig, self._request_stop)
        try:
            yield
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)

    def _request_stop(self) -> None:
        _LOG.info("stopping the speech server")
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True

    async def _signal_ready(self) -> None:
        while self._uvicorn is not None and not self._uvicorn.started:
            await asyncio.sleep(0.01)
        self._ready.set()

    def run(self) -> None:
        """Serve in the foreground until interrupted."""
        asyncio.run(self.serve())

    def start(self, timeout: float = 60.0) -> SpeechServer:
        """Serve on a background thread; returns once the server accepts connections."""
        def target() -> None:
            try:
                asyncio.run(self.serve())
            except BaseException as exc:  # reported to the starting thread
                self._error = exc
                self._ready.set()

        self._thread = threading.Thread(target=target, name="sonorant-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the speech server did not start within {timeout} s")
        if self._error is not None:
            raise self._error
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop a server started with `start()` and wait for it to finish."""
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._thread is not None:
            deadline = time.monotonic() + timeout
            self._thread.join(max(0.0, deadline - time.monotonic()))
            self._thread = None

    def __enter__(self) -> SpeechServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _uvicorn_server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server without its own signal handling (`SpeechServer` stops it, then cleans up)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Server
