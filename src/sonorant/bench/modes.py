"""Accelerator benchmark modes: offline throughput over batch sizes, and many concurrent streams.

`offline_throughput` is batch synthesis as a corpus job runs it: phoneme ids in (the front end is not
timed), trimmed float32 audio on the host out, through `Engine.synthesize` at each batch size. It reports
x real time, the achieved TFLOP/s (the FLOPs counted per audio second on the model, times the audio
produced per second) and their share of the device's peak for the decoder's precision, and the device's
peak memory.

`concurrent_streams` is the server's path: N streaming requests submitted together to one `Scheduler`,
which batches their sentences and decoder windows across requests. It reports each stream's time to
first audio (p50 / p99) and the aggregate x real time until the last stream ends.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..engine import Utterance

if TYPE_CHECKING:
    from .. import SynthesisConfig, Voice

_GPU_PEAKS_TFLOPS: dict[str, dict[str, float]] = {
    # Dense (no sparsity) peaks from NVIDIA's data sheets: fp32 on CUDA cores, tf32 / bf16 / fp16 on
    # tensor cores. H200 has H100 SXM's compute.
    "H200": {"fp32": 66.9, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4},
    "H100 PCIe": {"fp32": 51.2, "tf32": 378.0, "bf16": 756.0, "fp16": 756.0},
    "H100": {"fp32": 66.9, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4},
    "A100": {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0, "fp16": 312.0},
    "L4": {"fp32": 30.3, "tf32": 60.0, "bf16": 121.0, "fp16": 121.0},
    "A10": {"fp32": 31.2, "tf32": 62.5, "bf16": 125.0, "fp16": 125.0},
    "T4": {"fp32": 8.1, "tf32": 8.1, "bf16": 8.1, "fp16": 65.0},
}


def device_peak_tflops(device: str, precision: str) -> tuple[float, str]:
    """The device's peak TFLOP/s for the decoder's precision, and where the number comes from."""
    if device.startswith("cuda"):
        import torch

        name = torch.cuda.get_device_name(torch.device(device))
        for key, peaks in _GPU_PEAKS_TFLOPS.items():
            if key in name and not (key == "H100" and "PCIe" in name):
                return peaks.get(precision, peaks["fp32"]), f"{name}: NVIDIA data-sheet dense {precision} peak"
        return 0.0, f"{name}: peak unknown to sonorant"
    from .flops import estimate_peak

    peak = estimate_peak()
    return peak.gflops / 1000.0, peak.note


@dataclass(frozen=True)
class OfflineRow:
    """Offline synthesis at one batch size."""

    batch_size: int
    """Most utterances per forward pass."""
    utterances: int
    """Utterances synthesized per pass over the set."""
    audio_seconds: float
    """Audio produced per pass."""
    wall_seconds: float
    """Median wall time of a pass (ids in, trimmed host audio out)."""
    x_real_time: float
    """Audio seconds per wall second."""
    achieved_tflops: float
    """Counted model FLOPs per wall second, in TFLOP/s."""
    peak_share: float
    """`achieved_tflops` over the device's peak for the decoder's precision (0 when unknown)."""
    peak_memory_mb: float
    """Peak device memory allocated by torch during the passes (CUDA), else 0."""


@dataclass(frozen=True)
class StreamsResult:
    """N streaming requests submitted together to the server's scheduler."""

    streams: int
    """Concurrent streaming requests."""
    first_audio_ms_p50: float
    """Median time from submission to a stream's first audio."""
    first_audio_ms_p99: float
    """99th percentile of the same."""
    audio_seconds: float
    """Audio of all streams together."""
    wall_seconds: float
    """From the first submission to the end of the last stream."""
    x_real_time: float
    """Aggregate audio seconds per wall second."""


def _ids_of(voice: Voice, texts: Sequence[str], cfg: SynthesisConfig | None) -> list[list[int]]:
    resolved = voice.resolve(cfg)
    return [p.ids for t in texts for p in voice.plan(t, resolved.normalize_text)]


def corpus(voice: Voice, texts: Sequence[str], n: int, cfg: SynthesisConfig | None = None) -> list[Utterance]:
    """`n` utterances cycling through the sentences of `texts`, each with its own seed."""
    resolved = voice.resolve(cfg)
    ids = _ids_of(voice, texts, cfg)
    base = resolved.seed or 0
    return [Utterance(tuple(ids[i % len(ids)]), base + i, resolved.knobs, resolved.speaker_id) for i in range(n)]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize(torch.device(device))


def offline_throughput(voice: Voice, texts: Sequence[str], batch_sizes: Sequence[int], *, utterances: int = 512,
                       repeats: int = 2, cfg: SynthesisConfig | None = None,
                       gflop_per_audio_second: float | None = None) -> list[OfflineRow]:
    """Time `Engine.synthesize` over `utterances` utterances at each batch size (after one warm-up pass,
    which also builds any compiled shapes); the median of `repeats` passes."""
    from .flops import count_flops

    device = voice.device
    precision = str(getattr(voice.runtime, "precision", "fp32"))
    if gflop_per_audio_second is None:
        gflop_per_audio_second = count_flops(voice, max(texts, key=len), cfg).gflop_per_audio_second
    peak, _ = device_peak_tflops(device, precision)
    utts = corpus(voice, texts, utterances, cfg)
    rows = []
    for bs in batch_sizes:
        voice.engine.synthesize(utts, max_batch=bs)  # warm-up: compiles, allocator pools, pinned buffers
        _reset_peak_memory(device)
        walls, audio = [], 0.0
        for _ in range(repeats):
            _sync(device)
            start = time.perf_counter()
            out = voice.engine.synthesize(utts, max_batch=bs)
            walls.append(time.perf_counter() - start)
            audio = sum(len(a) for a in out) / voice.sample_rate
        wall = statistics.median(walls)
        tflops = gflop_per_audio_second * audio / wall / 1000.0
        rows.append(OfflineRow(bs, len(utts), audio, wall, audio / wall, tflops, tflops / peak if peak else 0.0,
                               _peak_memory_mb(device)))
    return rows


def _reset_peak_memory(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats(torch.device(device))


def _peak_memory_mb(device: str) -> float:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.max_memory_allocated(torch.device(device)) / 2**20
    return 0.0


def concurrent_streams(voice: Voice, texts: Sequence[str], n_streams: int, *, cfg: SynthesisConfig | None = None,
                       max_batch: int | None = None, timeout_s: float = 600.0) -> StreamsResult:
    """Submit `n_streams` streaming requests (texts in turn, each its own seed) at once to a scheduler and
    measure first audio and aggregate speed; every stream must finish without an error."""
    from ..engine.scheduler import Piece, Scheduler, SchedulerConfig

    resolved = voice.resolve(cfg)
    batch = max_batch or max(4, min(64, n_streams))
    scheduler = Scheduler(SchedulerConfig(max_batch=batch, max_queue=max(64, n_streams), batch_wait_ms=0.0))
    scheduler.start()
    jobs = []
    for i in range(n_streams):
        _, utts, gaps = voice.prepare(texts[i % len(texts)], resolved)
        utts = [replace(u, seed=(resolved.seed or 0) + 1000 * i + k) for k, u in enumerate(utts)]
        jobs.append((utts, [int(round(g * voice.sample_rate)) for g in gaps]))
    first: list[float | None] = [None] * n_streams
    samples = [0] * n_streams
    errors: list[BaseException] = []
    done = threading.Semaphore(0)
    lock = threading.Lock()

    def sink_for(i: int, t0: float) -> Any:
        def sink(item: Piece | BaseException) -> None:
            with lock:
                if isinstance(item, BaseException):
                    errors.append(item)
                    done.release()
                    return
                if first[i] is None:
                    first[i] = time.perf_counter() - t0
                samples[i] += len(item.samples)
            if item.is_last:
                done.release()
        return sink

    try:
        start = time.perf_counter()
        for i, (utts, gaps) in enumerate(jobs):
            scheduler.submit(voice.engine, utts, gaps, sample_rate=voice.sample_rate, streaming=True,
                             sink=sink_for(i, time.perf_counter()))
        for _ in range(n_streams):
            if not done.acquire(timeout=timeout_s):
                raise TimeoutError(f"streams did not finish within {timeout_s} s")
        wall = time.perf_counter() - start
    finally:
        scheduler.close()
    if errors:
        raise RuntimeError(f"{len(errors)} of {n_streams} streams failed: {errors[0]!r}")
    firsts = np.array([f for f in first if f is not None]) * 1000.0
    audio = sum(samples) / voice.sample_rate
    return StreamsResult(n_streams, float(np.percentile(firsts, 50)), float(np.percentile(firsts, 99)), audio, wall,
                         audio / wall)


def mode_report(voice: Voice, offline: Sequence[OfflineRow] = (), streams: Sequence[StreamsResult] = (),
                command: str = "") -> dict[str, Any]:
    """A JSON-friendly report of the modes' results with the machine and settings."""
    import datetime as dt
    import platform

    device = voice.device
    precision = str(getattr(voice.runtime, "precision", "fp32"))
    peak, note = device_peak_tflops(device, precision)
    return {
        "command": command, "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "voice": voice.name, "device": device, "runtime": voice.runtime.name, "precision": precision,
        "peak_tflops": peak, "peak_note": note, "python": platform.python_version(),
        "offline": [asdict(r) for r in offline], "streams": [asdict(s) for s in streams],
    }


def format_modes(report: dict[str, Any]) -> str:
    """The report as plain-text tables."""
    lines = [f"{report['voice']} on {report['device']} ({report['runtime']}, {report['precision']}); "
             f"peak {report['peak_tflops']:.1f} TFLOP/s ({report['peak_note']})"]
    if report["offline"]:
        lines += ["", "Offline throughput (ids in, trimmed float32 audio on the host out)",
                  f"{'batch':>6} {'utts':>6} {'audio s':>9} {'wall s':>8} {'x real time':>12} {'TFLOP/s':>8} "
                  f"{'of peak':>8} {'peak MiB':>9}"]
        for r in report["offline"]:
            lines.append(f"{r['batch_size']:>6} {r['utterances']:>6} {r['audio_seconds']:>9.1f} {r['wall_seconds']:>8.3f} "
                         f"{r['x_real_time']:>12,.0f} {r['achieved_tflops']:>8.2f} {100 * r['peak_share']:>7.1f}% "
                         f"{r['peak_memory_mb']:>9,.0f}")
    if report["streams"]:
        lines += ["", "Concurrent streams (the server's scheduler)",
                  f"{'streams':>8} {'first audio p50 ms':>19} {'p99 ms':>8} {'audio s':>9} {'wall s':>8} {'x real time':>12}"]
        for s in report["streams"]:
            lines.append(f"{s['streams']:>8} {s['first_audio_ms_p50']:>19.1f} {s['first_audio_ms_p99']:>8.1f} "
                         f"{s['audio_seconds']:>9.1f} {s['wall_seconds']:>8.2f} {s['x_real_time']:>12,.0f}")
    return "\n".join(lines)
