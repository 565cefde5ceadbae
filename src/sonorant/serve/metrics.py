"""Prometheus metrics of a speech server: requests, errors, queue depth, batch sizes, TTFA and RTF.

Each server has its own registry (so several servers in one process, as in tests, never collide); it
also carries the standard process collector, whose `process_resident_memory_bytes` the load test reads.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.process_collector import ProcessCollector

from ..engine.scheduler import Ticket

_SECONDS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
_RTF = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0, 10.0)
_ROWS = (1, 2, 3, 4, 6, 8, 12, 16, 32)


class ServerMetrics:
    """The server's metrics; also the scheduler's observer (batch sizes, pass times, cancellations)."""

    content_type = CONTENT_TYPE_LATEST
    """Content-Type of `render()`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        r = self.registry
        self.requests = Counter("sonorant_requests", "Requests answered, by endpoint and status code",
                                ["endpoint", "status"], registry=r)
        self.errors = Counter("sonorant_errors", "Failed or refused requests, by kind", ["kind"], registry=r)
        self.queue_depth = Gauge("sonorant_queue_depth", "Speech requests held by the scheduler (running or waiting)",
                                 registry=r)
        self.batch_rows = Histogram("sonorant_batch_size", "Rows (sentences or decoder windows) per forward pass",
                                    ["stage"], buckets=_ROWS, registry=r)
        self.batch_requests = Histogram("sonorant_batch_requests", "Distinct requests sharing a forward pass",
                                        ["stage"], buckets=_ROWS, registry=r)
        self.pass_seconds = Histogram("sonorant_pass_seconds", "Wall time of one forward pass", ["stage"],
                                      buckets=_SECONDS, registry=r)
        self.ttfa = Histogram("sonorant_ttfa_seconds", "Time from a streamed request's arrival to its first audio",
                              buckets=_SECONDS, registry=r)
        self.rtf = Histogram("sonorant_rtf", "Wall time over audio duration of each completed request",
                             buckets=_RTF, registry=r)
        self.audio_seconds = Counter("sonorant_audio_seconds", "Seconds of audio delivered", registry=r)
        self.finished = Counter("sonorant_scheduler_requests", "Requests the scheduler ended, by status",
                                ["status"], registry=r)

    def track_queue(self, depth: Callable[[], float]) -> None:
        """Report `depth()` as the queue depth at every scrape."""
        self.queue_depth.set_function(depth)

    def render(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)

    # --- scheduler observer ---------------------------------------------------------------------------

    def on_batch(self, stage: str, rows: int, requests: int, frames: int, seconds: float) -> None:
        self.batch_rows.labels(stage).observe(rows)
        self.batch_requests.labels(stage).observe(requests)
        self.pass_seconds.labels(stage).observe(seconds)

    def on_piece(self, ticket: Ticket, index: int, samples: int) -> None:
        """Nothing per piece (TTFA is measured where the request arrived, front end included)."""

    def on_finish(self, ticket: Ticket) -> None:
        self.finished.labels(ticket.status).inc()
