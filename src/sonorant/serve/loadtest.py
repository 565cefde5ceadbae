"""A bounded load test of a sonorant speech server (loopback only; it stops by itself).

    python -m sonorant.serve.loadtest [--voice joe] [--runtime eager] [--clients 32] [--requests 4]
                                      [--disconnect 0.15] [--bad 0.1] [--seed 0] [--ramp 8] [--baseline-passes 3]
                                      [--max-seconds 1200] [--json PATH]
    python -m sonorant.serve.loadtest --url http://127.0.0.1:8000 [--api-key KEY] ...   # a server already running

Without --url it starts `sonorant serve` as a subprocess on a free loopback port and stops it at the end.

1. Baseline, one request at a time: every distinct (text, seed) job, streamed as pcm, in `baseline_passes`
   passes (a pass takes ~10 s, and one pass's throughput varied by up to 20 % between runs here). This
   gives single-client time to first audio (TTFA), one-at-a-time throughput over all passes, and each
   job's reference audio (every pass must give the same audio, within 4 LSB).
2. Load: `clients` concurrent clients (started evenly over `ramp_s` seconds), each sending `requests`
   requests back to back: streamed pcm, whole-file wav, streams that disconnect after their first chunk
   (at least `disconnect` of all), and bad requests (at least `bad`: input over the character limit, a
   body over the size limit, malformed JSON). A 503 is retried after its Retry-After.

Checks: the server never crashes (process alive, /health answers, no 5xx but 503), every well-formed
request is answered completely with the same audio as its baseline (same length, within 4 LSB: passes
batched differently round floats differently), bad requests get their 4xx. Reports throughput under load vs one at a time, TTFA p50/p99 under load vs
single client, and the server's RSS (from /metrics) before, during (peak) and after the load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import random
import re
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..bench.texts import DEFAULT_TEXTS, PARAGRAPH
from ..errors import ConfigError

_LOG = logging.getLogger(__name__)

KINDS = ("stream", "wav", "disconnect", "too_long", "too_big", "malformed")
"""Request kinds of the load phase."""
_WELL_FORMED = ("stream", "wav")


@dataclass(frozen=True)
class LoadTestConfig:
    """Size and mix of a load test."""

    clients: int = 32
    """Concurrent clients in the load phase."""
    requests: int = 4
    """Requests each client sends, one after another."""
    disconnect: float = 0.15
    """Least fraction of load-phase requests that disconnect after their first chunk."""
    bad: float = 0.1
    """Least fraction of load-phase requests that are oversized or malformed."""
    seed: int = 0
    """Seed of the request mix (and base of the synthesis seeds)."""
    max_seconds: float = 1200.0
    """The whole test stops (and fails) after this long."""
    ramp_s: float = 8.0
    """Clients start evenly spread over this many seconds (a ramp, not one burst of `clients` requests)."""
    short_jobs: int = 8
    """Distinct short texts (one sentence each)."""
    long_jobs: int = 4
    """Distinct long texts (several sentences each)."""
    voice: str = "alloy"
    """Voice name sent with every request."""
    baseline_passes: int = 3
    """One-at-a-time passes over the distinct jobs."""

    def __post_init__(self) -> None:
        for name in ("clients", "requests", "short_jobs", "baseline_passes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)!r}")


@dataclass
class Result:
    """One request's outcome."""

    kind: str
    job: int
    status: int = 0
    ttfa: float | None = None
    wall: float = 0.0
    audio: bytes = b""
    retries: int = 0
    error: str | None = None


@dataclass
class LoadReport:
    """What a load test measured and whether it passed."""

    config: dict[str, Any]
    server: str
    baseline_requests: int = 0
    load_requests: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    crashes: int = 0
    server_errors: int = 0
    incomplete: list[str] = field(default_factory=list)
    bad_answered: int = 0
    bad_total: int = 0
    disconnects: int = 0
    cancelled_on_server: int | None = None
    busy_retries: int = 0
    throughput_single: float = 0.0
    """Audio seconds per wall second, one request at a time."""
    throughput_load: float = 0.0
    """Audio seconds per wall second of completed well-formed requests under load."""
    ttfa_single_p50: float = 0.0
    ttfa_single_p99: float = 0.0
    ttfa_load_p50: float = 0.0
    ttfa_load_p99: float = 0.0
    audio_per_cpu_single: float | None = None
    """Audio seconds per second of server CPU time, one request at a time (steadier than wall time on a
    shared machine)."""
    audio_per_cpu_load: float | None = None
    """Audio seconds per second of server CPU time under load."""
    ttfa_load_p90: float = 0.0
    rss_before_mib: float | None = None
    rss_peak_mib: float | None = None
    rss_after_mib: float | None = None
    baseline_seconds: float = 0.0
    load_seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """No crash, no 5xx but 503, every well-formed request complete, every bad one refused properly."""
        return (self.crashes == 0 and self.server_errors == 0 and not self.incomplete
                and self.bad_answered == self.bad_total)

    def summary(self) -> str:
        """A readable report."""
        ratio = self.throughput_load / self.throughput_single if self.throughput_single else float("nan")
        ttfa_ratio = self.ttfa_load_p99 / self.ttfa_single_p99 if self.ttfa_single_p99 else float("nan")
        rss = (f"RSS before {self.rss_before_mib:.0f} MiB, peak {self.rss_peak_mib:.0f} MiB, after "
               f"{self.rss_after_mib:.0f} MiB" if self.rss_before_mib is not None and self.rss_after_mib is not None
               and self.rss_peak_mib is not None else "RSS not reported by the server")
        lines = [
            f"server {self.server}: {'PASSED' if self.passed else 'FAILED'}",
            f"baseline: {self.baseline_requests} requests one at a time in {self.baseline_seconds:.1f} s; "
            f"load: {self.load_requests} requests from {self.config['clients']} clients in {self.load_seconds:.1f} s "
            f"({', '.join(f'{k} {v}' for k, v in self.kinds.items())})",
            f"crashes {self.crashes}, 5xx other than 503: {self.server_errors}, incomplete well-formed: "
            f"{len(self.incomplete)}, bad requests refused properly {self.bad_answered}/{self.bad_total}, "
            f"disconnects {self.disconnects} (server cancelled {self.cancelled_on_server}), 503 retries "
            f"{self.busy_retries}",
            f"throughput (audio s / wall s): one at a time {self.throughput_single:.2f}, under load "
            f"{self.throughput_load:.2f} ({ratio:.2f}x)",
            f"audio s per server CPU s: one at a time {_fmt(self.audio_per_cpu_single)}, under load "
            f"{_fmt(self.audio_per_cpu_load)}",
            f"TTFA single client p50 {self.ttfa_single_p50 * 1000:.0f} ms p99 {self.ttfa_single_p99 * 1000:.0f} ms; "
            f"under load p50 {self.ttfa_load_p50 * 1000:.0f} ms p90 {self.ttfa_load_p90 * 1000:.0f} ms "
            f"p99 {self.ttfa_load_p99 * 1000:.0f} ms (p99 {ttfa_ratio:.2f}x single)",
            rss,
        ]
        lines += [f"  incomplete: {x}" for x in self.incomplete[:10]]
        return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def jobs(cfg: LoadTestConfig) -> list[str]:
    """The distinct texts: short single sentences, then long multi-sentence ones."""
    rng = random.Random(cfg.seed)
    short = [DEFAULT_TEXTS[i % len(DEFAULT_TEXTS)] for i in rng.sample(range(len(DEFAULT_TEXTS)), cfg.short_jobs)]
    sentences = re.split(r"(?<=[.!?])\s+", PARAGRAPH)
    long = []
    for i in range(cfg.long_jobs):
        start = (3 * i) % len(sentences)
        long.append(" ".join((sentences + sentences)[start : start + 3 + i % 3]))
    return short + long


def plan(cfg: LoadTestConfig, n_jobs: int) -> list[list[tuple[str, int]]]:
    """Per client, its (kind, job) requests: exact counts of each kind, shuffled with the seed."""
    total = cfg.clients * cfg.requests
    n_disc = math.ceil(cfg.disconnect * total)
    n_bad = math.ceil(cfg.bad * total)
    bad = [("too_long", "too_big", "malformed")[i % 3] for i in range(n_bad)]
    rest = max(0, total - n_disc - n_bad)
    kinds = ["disconnect"] * n_disc + bad + ["stream" if i % 3 else "wav" for i in range(rest)]
    rng = random.Random(cfg.seed + 1)
    rng.shuffle(kinds)
    long_jobs = list(range(cfg.short_jobs, n_jobs)) or list(range(n_jobs))
    out = []
    for c in range(cfg.clients):
        row = []
        for k in kinds[c * cfg.requests : (c + 1) * cfg.requests]:
            row.append((k, rng.choice(long_jobs) if k == "disconnect" else rng.randrange(n_jobs)))
        out.append(row)
    return out


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


class _Client:
    """Sends one kind of request and records what came back."""

    def __init__(self, http: Any, url: str, cfg: LoadTestConfig, texts: list[str], limits: dict[str, int]) -> None:
        self.http = http
        self.url = url + "/v1/audio/speech"
        self.cfg = cfg
        self.texts = texts
        self.limits = limits

    def body(self, kind: str, job: int) -> tuple[bytes, dict[str, Any] | None]:
        if kind == "malformed":
            return b'{"model": "tts-1", "input": "cut off', None
        if kind == "too_big":
            return b" " * (self.limits["max_body_bytes"] + 1024), None
        text = self.texts[job]
        if kind == "too_long":
            text = ("Too long. " * (self.limits["max_chars"] // 10 + 2))
        fmt = "wav" if kind == "wav" else "pcm"
        return b"", {"model": "tts-1", "voice": self.cfg.voice, "input": text, "response_format": fmt,
                     "stream": kind != "wav", "seed": self.cfg.seed + job}

    async def send(self, kind: str, job: int) -> Result:
        result = Result(kind, job)
        raw, payload = self.body(kind, job)
        start = time.perf_counter()
        while True:
            try:
                kwargs = {"json": payload} if payload is not None else {
                    "content": raw, "headers": {"content-type": "application/json"}}
                async with self.http.stream("POST", self.url, **kwargs) as response:
                    result.status = response.status_code
                    if response.status_code == 503:
                        result.retries += 1
                        await asyncio.sleep(float(response.headers.get("retry-after", "1")))
                        continue
                    parts = []
                    async for chunk in response.aiter_raw():
                        if not chunk:
                            continue
                        if result.ttfa is None:
                            result.ttfa = time.perf_counter() - start
                        parts.append(chunk)
                        if kind == "disconnect":
                            break
                    result.audio = b"".join(parts)
            except Exception as exc:  # recorded: a transport failure is an incomplete answer
                result.error = f"{type(exc).__name__}: {exc}"
            break
        result.wall = time.perf_counter() - start
        return result


def _rss_mib(metrics_text: str) -> float | None:
    m = re.search(r"^process_resident_memory_bytes (\S+)$", metrics_text, re.M)
    return float(m.group(1)) / 2**20 if m else None


def _cpu_seconds(metrics_text: str) -> float | None:
    m = re.search(r"^process_cpu_seconds_total (\S+)$", metrics_text, re.M)
    return float(m.group(1)) if m else None


def _cancelled(metrics_text: str) -> int | None:
    m = re.search(r'^sonorant_scheduler_requests_total\{status="cancelled"\} (\S+)$', metrics_text, re.M)
    return int(float(m.group(1))) if m else 0


async def run_load_test(url: str, cfg: LoadTestConfig, api_key: str | None = None,
                        alive: Any = None) -> LoadReport:
    """Run the test against the server at `url`; `alive()` (optional) says whether its process still runs."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    texts = jobs(cfg)
    report = LoadReport(config=asdict(cfg), server=url)
    limits_http = httpx.Limits(max_connections=cfg.clients + 8, max_keepalive_connections=cfg.clients + 8)
    async with httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(300.0), limits=limits_http) as http:
        health = (await http.get(url + "/health")).json()
        client = _Client(http, url, cfg, texts, health)

        async def metrics() -> str:
            return (await http.get(url + "/metrics")).text

        # 1. one request at a time
        cpu_start = _cpu_seconds(await metrics())
        t0 = time.perf_counter()
        baseline = [await client.send("stream", j) for _ in range(cfg.baseline_passes) for j in range(len(texts))]
        report.baseline_seconds = time.perf_counter() - t0
        report.baseline_requests = len(baseline)
        reference = {r.job: r.audio for r in baseline[: len(texts)]}
        sample_rate = 0
        for r in baseline:
            if r.status != 200 or r.error:
                report.incomplete.append(f"baseline job {r.job}: status {r.status} {r.error or ''}")
            elif problem := _compare(r, reference[r.job]):  # passes batched differently round differently
                report.incomplete.append(f"baseline job {r.job}, a later pass: {problem}")
        rate_probe = await http.get(url + "/v1/voices")
        voices = rate_probe.json()["data"]
        sample_rate = next((v["sample_rate"] for v in voices if cfg.voice in (v["id"], *v["aliases"])),
                           voices[0]["sample_rate"])
        audio_s = sum(len(r.audio) / 2 / sample_rate for r in baseline)
        report.throughput_single = audio_s / max(1e-9, sum(r.wall for r in baseline))
        report.ttfa_single_p50 = _percentile([r.ttfa for r in baseline if r.ttfa], 50)
        report.ttfa_single_p99 = _percentile([r.ttfa for r in baseline if r.ttfa], 99)
        before = await metrics()
        report.rss_before_mib = _rss_mib(before)
        cpu_before = _cpu_seconds(before)
        if cpu_start is not None and cpu_before is not None and cpu_before > cpu_start:
            report.audio_per_cpu_single = audio_s / (cpu_before - cpu_start)
        cancelled_before = _cancelled(before) or 0

        # 2. many clients at once
        requests = plan(cfg, len(texts))
        peak = [report.rss_before_mib or 0.0]
        stop = asyncio.Event()

        async def sample_rss() -> None:
            while not stop.is_set():
                try:
                    rss = _rss_mib(await metrics())
                    if rss is not None:
                        peak[0] = max(peak[0], rss)
                except Exception as exc:  # a failed scrape is reported by the checks below
                    _LOG.debug("metrics scrape failed: %s", exc)
                await asyncio.sleep(1.0)

        async def run_client(index: int, row: list[tuple[str, int]]) -> list[Result]:
            await asyncio.sleep(cfg.ramp_s * index / max(1, cfg.clients))
            return [await client.send(kind, job) for kind, job in row]

        sampler = asyncio.create_task(sample_rss())
        t0 = time.perf_counter()
        rows = await asyncio.gather(*(run_client(i, row) for i, row in enumerate(requests)))
        report.load_seconds = time.perf_counter() - t0
        stop.set()
        await sampler
        results = [r for row in rows for r in row]
        report.load_requests = len(results)
        report.kinds = {k: sum(r.kind == k for r in results) for k in KINDS}

        # 3. checks
        try:
            healthy = (await http.get(url + "/health")).status_code == 200
            after = await metrics()
        except Exception as exc:  # the server is gone
            _LOG.error("server did not answer after the load: %s", exc)
            healthy, after = False, ""
        if not healthy or (alive is not None and not alive()):
            report.crashes += 1
        report.rss_after_mib = _rss_mib(after)
        report.rss_peak_mib = max(peak[0], report.rss_after_mib or 0.0)
        cancelled = _cancelled(after)
        report.cancelled_on_server = None if cancelled is None else cancelled - cancelled_before
    _check(report, results, reference)
    well = [r for r in results if r.kind in _WELL_FORMED and r.status == 200 and not r.error]
    audio_s = sum(_pcm_bytes(r) / 2 / sample_rate for r in well)
    report.throughput_load = audio_s / max(1e-9, report.load_seconds)
    cpu_after = _cpu_seconds(after)
    if cpu_before is not None and cpu_after is not None and cpu_after > cpu_before:
        report.audio_per_cpu_load = audio_s / (cpu_after - cpu_before)
    stream_ttfa = [r.ttfa for r in results if r.kind == "stream" and r.ttfa]
    report.ttfa_load_p50 = _percentile(stream_ttfa, 50)
    report.ttfa_load_p90 = _percentile(stream_ttfa, 90)
    report.ttfa_load_p99 = _percentile(stream_ttfa, 99)
    return report


def _pcm_bytes(r: Result) -> int:
    return len(r.audio) - 44 if r.kind == "wav" else len(r.audio)


def _check(report: LoadReport, results: list[Result], reference: dict[int, bytes]) -> None:
    expected = {"too_long": 413, "too_big": 413, "malformed": 422}
    for r in results:
        report.busy_retries += r.retries
        if r.status >= 500 and r.status != 503:
            report.server_errors += 1
        if r.kind in expected:
            report.bad_total += 1
            report.bad_answered += int(r.status == expected[r.kind] and r.error is None)
        elif r.kind == "disconnect":
            report.disconnects += 1
        else:
            problem = _compare(r, reference.get(r.job, b""))
            if problem:
                report.incomplete.append(f"{r.kind} job {r.job}: {problem}")


def _compare(r: Result, ref: bytes) -> str | None:
    """Why `r` is not the complete audio of its job (None when it is)."""
    if r.error or r.status != 200:
        return f"status {r.status} {r.error or ''}".strip()
    data = r.audio
    if r.kind == "wav":
        if len(data) < 44 or data[:4] != b"RIFF" or int.from_bytes(data[40:44], "little") != len(data) - 44:
            return "WAV header does not match its body"
        data = data[44:]
    if len(data) != len(ref):
        return f"{len(data)} bytes of audio, baseline {len(ref)}"
    diff = np.abs(np.frombuffer(data, "<i2").astype(np.int32) - np.frombuffer(ref, "<i2").astype(np.int32))
    if len(diff) and int(diff.max()) > 4:
        return f"samples differ from the baseline by up to {int(diff.max())}"
    return None


class _SpawnedServer:
    """`python -m sonorant serve` on a free loopback port, its log read on a thread."""

    def __init__(self, voice: str | None, runtime: str, threads: int | None, max_queue: int) -> None:
        cmd = [sys.executable, "-m", "sonorant", "serve", "--host", "127.0.0.1", "--port", "0", "--runtime", runtime,
               "--max-queue", str(max_queue)]
        if voice:
            cmd += ["--voice", voice]
        if threads:
            cmd += ["--threads", str(threads)]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.url: str | None = None
        self.log: list[str] = []
        self._found = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line.rstrip())
            m = re.search(r"serving \S+ on (http://\S+)/v1", line)
            if m:
                self.url = m.group(1)
                self._found.set()
        self._found.set()

    def wait(self, timeout: float) -> str:
        if not self._found.wait(timeout) or self.url is None:
            self.stop()
            raise RuntimeError("the server did not start:\n" + "\n".join(self.log[-20:]))
        return self.url

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def main(argv: list[str] | None = None) -> int:
    """Command line of the load test; exit status 0 when it passed."""
    p = argparse.ArgumentParser(prog="python -m sonorant.serve.loadtest", description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default=None, help="a running server (default: start one)")
    p.add_argument("--api-key", default=None, help="the running server's API key")
    p.add_argument("--voice", default=None, help="voice of the started server (default: joe)")
    p.add_argument("--runtime", default="eager", help="runtime of the started server (default: eager)")
    p.add_argument("--threads", type=int, default=None, help="torch threads of the started server")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--requests", type=int, default=4, help="requests per client")
    p.add_argument("--disconnect", type=float, default=0.15)
    p.add_argument("--bad", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--baseline-passes", type=int, default=3, help="one-at-a-time passes over the jobs (default 3)")
    p.add_argument("--ramp", type=float, default=8.0, help="seconds over which the clients start (default 8)")
    p.add_argument("--max-seconds", type=float, default=1200.0)
    p.add_argument("--json", type=Path, default=None, help="write the report as JSON")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    cfg = LoadTestConfig(clients=args.clients, requests=args.requests, disconnect=args.disconnect, bad=args.bad,
                         seed=args.seed, max_seconds=args.max_seconds, ramp_s=args.ramp,
                         baseline_passes=args.baseline_passes)
    server = None
    url = args.url
    if url is None:
        server = _SpawnedServer(args.voice, args.runtime, args.threads, max_queue=max(64, 2 * cfg.clients))
        url = server.wait(timeout=300)
    try:
        report = asyncio.run(asyncio.wait_for(
            run_load_test(url, cfg, args.api_key, server.alive if server else None), cfg.max_seconds))
    except asyncio.TimeoutError:
        _LOG.error("the load test did not finish within %.0f s", cfg.max_seconds)
        return 1
    finally:
        if server is not None:
            server.stop()
    sys.stdout.write(report.summary() + "\n")
    if args.json:
        args.json.write_text(json.dumps({**asdict(report), "passed": report.passed}, indent=2))
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
