"""The benchmark runner: warm-up, synchronised timing, percentiles, RTF, time to first audio, memory, stages.

Every backend (sonorant's own voice, or a peer such as Piper) is measured by the same code path, through
the small `Backend` protocol. With several backends the runs are interleaved (for each repeat, for each
text, each backend in turn) so that a noisy machine slows them alike and their ratios stay fair.

What is measured, per backend:
  * latency: `time.perf_counter()` around one `synthesize(text)` call (device-synchronised), warm-up
    runs excluded; audio length is measured from the returned samples, never assumed;
  * time to first audio: call to first chunk of a streamed paragraph, median of the repeats;
  * peak memory: the process's RSS high-water mark during each call (Linux `VmHWM`, reset before the
    call through /proc/self/clear_refs), and `torch.cuda.max_memory_allocated` on CUDA;
  * a stage split (backends that offer `stage_times`, see `sonorant.bench.stages`), run after the timing.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import torch

from ..config import SynthesisConfig
from .flops import FlopCount, count_flops, cpu_info, estimate_peak
from .results import BenchResult, FlopStats, FrameStats, LatencyStats, MachineInfo, StageTime, Throughput
from .texts import PARAGRAPH

if TYPE_CHECKING:
    from .. import Voice

_LOG = logging.getLogger(__name__)

Progress = Callable[[int], Any]
"""Called with the number of steps just finished (e.g. a tqdm bar's `update`)."""


# --- backends -----------------------------------------------------------------------------------------


@runtime_checkable
class Backend(Protocol):
    """Something that turns text into audio, measured by the runner."""

    name: str
    """Column name in reports (e.g. "sonorant-eager", "piper")."""
    device: str
    """Where the model runs ("cpu", "cuda:0", ...); the runner synchronises CUDA devices around calls."""
    hop_length: int
    """Audio samples per model frame."""

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        """All of `text` as (float32 samples, sample rate)."""
        ...

    def first_chunk(self, text: str) -> tuple[np.ndarray, int]:
        """The first chunk a streaming call on `text` yields, as (samples, sample rate)."""
        ...


@runtime_checkable
class StagedBackend(Backend, Protocol):
    """A backend that can also time the stages of its pipeline on one text."""

    def stage_times(self, text: str) -> dict[str, float]:
        """Seconds spent in each stage while synthesizing `text` once (device-synchronised)."""
        ...


class SonorantBackend:
    """A `sonorant.Voice` behind the `Backend` protocol: `voice.synthesize` and `voice.stream`."""

    def __init__(self, voice: Voice, cfg: SynthesisConfig | None = None, name: str = "sonorant-eager") -> None:
        self.voice = voice
        self.cfg = cfg if cfg is not None else SynthesisConfig(seed=0)
        self.name = name
        self.device = voice.device
        self.hop_length = voice.engine.hop

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        audio = self.voice.synthesize(text, self.cfg)
        return audio.samples, audio.sample_rate

    def first_chunk(self, text: str) -> tuple[np.ndarray, int]:
        stream = self.voice.stream(text, self.cfg)
        try:
            chunk = next(iter(stream))
        finally:
            stream.close()
        return chunk.samples, chunk.sample_rate

    def stage_times(self, text: str) -> dict[str, float]:
        from .stages import stage_times

        return stage_times(self.voice, text, self.cfg)

    @property
    def threads(self) -> int:
        """Intra-op torch threads the model runs with (0 for a runtime outside torch: its own default)."""
        return torch.get_num_threads() if self.voice.runtime.name in ("eager", "compile") else 0


# --- device sync and memory -------------------------------------------------------------------------


def _torch_device(device: str | torch.device) -> torch.device | None:
    """`device` as a torch device, or None for names torch does not know (e.g. an ONNX Runtime provider)."""
    try:
        return torch.device(device)
    except (RuntimeError, ValueError):
        return None


def _is_cuda(device: str | torch.device) -> bool:
    dev = _torch_device(device)
    return dev is not None and dev.type == "cuda" and torch.cuda.is_available()


def _sync(device: str | torch.device) -> None:
    """Wait for queued device work so a timer read after it measures the work, not its launch."""
    if _is_cuda(device):
        torch.cuda.synchronize(torch.device(device))


class MemoryProbe:
    """The process's peak RSS during a call: Linux VmHWM reset per call, else psutil RSS, else ru_maxrss."""

    def __init__(self) -> None:
        self.method = "resource ru_maxrss (process-lifetime high-water mark)"
        self._psutil: Any = None
        if self._reset_hwm() and self._vm("VmHWM") is not None:
            self.method = "VmHWM reset per call via /proc/self/clear_refs (process peak RSS)"
            return
        try:
            import psutil
        except ImportError:
            return
        self._psutil = psutil.Process()
        self.method = "psutil RSS after each call (a lower bound on the peak)"

    @staticmethod
    def _vm(key: str) -> int | None:
        try:
            with open("/proc/self/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None

    @staticmethod
    def _reset_hwm() -> bool:
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
                f.write("5")
        except OSError:
            return False
        return True

    def current(self) -> int:
        """Resident bytes now (best effort)."""
        if self._psutil is not None:
            return int(self._psutil.memory_info().rss)
        return self._vm("VmRSS") or 0

    def start(self) -> int:
        """Reset the high-water mark (where possible); returns the resident bytes before the call."""
        if self.method.startswith("VmHWM"):
            self._reset_hwm()
        return self.current()

    def peak(self) -> int:
        """The high-water mark since `start` (VmHWM), or the best substitute the method allows."""
        if self.method.startswith("VmHWM"):
            return self._vm("VmHWM") or 0
        if self._psutil is not None:
            return self.current()
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # KiB on Linux


@dataclass
class _Tally:
    """Raw measurements of one backend, accumulated while the runs are interleaved."""

    latencies: list[float] = field(default_factory=list)
    samples: list[int] = field(default_factory=list)
    passes: list[tuple[float, int]] = field(default_factory=list)
    frames: list[float] = field(default_factory=list)
    ttfa: list[float] = field(default_factory=list)
    sample_rate: int = 0
    peak_rss: int = 0
    peak_delta: int = 0
    cuda_peak: int = 0
    stages: dict[str, float] = field(default_factory=dict)


def _timed(backend: Backend, fn: Callable[[str], tuple[np.ndarray, int]], text: str, probe: MemoryProbe,
           tally: _Tally | None) -> tuple[float, np.ndarray, int]:
    """One synchronised, timed call; memory is recorded into `tally` when given (measured runs only)."""
    cuda = _is_cuda(backend.device)
    if cuda:
        torch.cuda.reset_peak_memory_stats(backend.device)
    before = probe.start()
    _sync(backend.device)
    t0 = time.perf_counter()
    samples, rate = fn(text)
    _sync(backend.device)
    elapsed = time.perf_counter() - t0
    if tally is not None:
        peak = probe.peak()
        tally.peak_rss = max(tally.peak_rss, peak)
        tally.peak_delta = max(tally.peak_delta, peak - before)
        if cuda:
            tally.cuda_peak = max(tally.cuda_peak, int(torch.cuda.max_memory_allocated(backend.device)))
    return elapsed, np.asarray(samples), int(rate)


def _machine(devices: Sequence[str]) -> MachineInfo:
    info = cpu_info()
    gpu = ""
    cuda = [d for d in devices if _is_cuda(d)]
    if cuda:
        gpu = torch.cuda.get_device_name(torch.device(cuda[0]))
    return MachineInfo(
        cpu_model=info.model, cores=info.cores, logical_cpus=info.logical_cpus, cpu_mhz=round(info.mhz, 1),
        torch_threads=torch.get_num_threads(), torch_version=torch.__version__,
        python_version=platform.python_version(), platform=platform.platform(),
        date=_dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="seconds"),
        load_avg_1m=_load_avg(), gpu=gpu,
    )


def _load_avg() -> float:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else 0.0


def _latency_stats(seconds: Sequence[float]) -> LatencyStats:
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    p50, p90, p95, p99 = (float(v) for v in np.percentile(ms, [50, 90, 95, 99]))
    std = float(ms.std(ddof=1)) if len(ms) > 1 else 0.0
    return LatencyStats(float(ms.mean()), std, p50, p90, p95, p99, float(ms.min()), float(ms.max()))


def _flop_stats(count: FlopCount | None, audio_s: float, wall_s: float, counted_on: str) -> FlopStats | None:
    if count is None or count.audio_seconds <= 0 or count.total_flops <= 0:
        return None
    peak = estimate_peak()
    per_s = count.gflop_per_audio_second
    achieved = per_s * audio_s / wall_s if wall_s > 0 else 0.0
    by_stage = {k: v / 1e9 / count.audio_seconds for k, v in count.by_stage.items()}
    return FlopStats(per_s, achieved, peak.gflops, achieved / peak.gflops if peak.gflops > 0 else 0.0, peak.note,
                     counted_on, by_stage)


def _result(backend: Backend, t: _Tally, machine: MachineInfo, texts: Sequence[str], repeats: int, warmup: int,
            probe: MemoryProbe, flop_count: FlopCount | None, counted_on: str) -> BenchResult:
    wall = float(sum(t.latencies))
    total_samples = int(sum(t.samples))
    audio = total_samples / t.sample_rate if t.sample_rate else 0.0
    stage_total = sum(t.stages.values())
    split = {k: StageTime(v, 100.0 * v / stage_total if stage_total > 0 else 0.0) for k, v in t.stages.items()}
    front_end = t.stages.get("front_end", 0.0)  # seconds per pass over the texts
    mib = 1024.0 * 1024.0
    return BenchResult(
        backend=backend.name, device=backend.device, machine=machine, n_texts=len(texts), repeats=repeats,
        warmup=warmup, threads=int(getattr(backend, "threads", 0) or 0), sample_rate=t.sample_rate,
        latency_ms=_latency_stats(t.latencies),
        throughput=Throughput(total_samples / wall if wall > 0 else 0.0, audio / wall if wall > 0 else 0.0),
        rtf=wall / audio if audio > 0 else float("inf"), wall_seconds=wall, audio_seconds=audio,
        rtf_by_pass=tuple(w * t.sample_rate / n if n else float("inf") for w, n in t.passes),
        frames_per_utterance=FrameStats(float(np.mean(t.frames)), float(min(t.frames)), float(max(t.frames))),
        ttfa_ms=1000.0 * statistics.median(t.ttfa) if t.ttfa else 0.0,
        ttfa_ms_all=tuple(1000.0 * x for x in t.ttfa), stage_split=split,
        peak_memory_mb=t.peak_rss / mib, peak_memory_delta_mb=max(t.peak_delta, 0) / mib,
        memory_method=probe.method, cuda_peak_memory_mb=t.cuda_peak / mib,
        flops=_flop_stats(flop_count, audio, wall, counted_on), latencies_ms=tuple(1000.0 * x for x in t.latencies),
        front_end_chars_per_s=sum(map(len, texts)) / front_end if front_end > 0 else 0.0,
    )


# --- the runs -----------------------------------------------------------------------------------------


def planned_steps(n_backends: int, n_texts: int, *, warmup: int, repeats: int, stages: bool = True,
                  flops: bool = True) -> int:
    """How many progress steps `run_backends` reports, for sizing a progress bar."""
    per_pass = n_backends * (n_texts + 1)  # every text, then the paragraph's first chunk
    return (warmup + repeats) * per_pass + (repeats * n_backends * n_texts if stages else 0) + int(flops)


def run_backends(
    backends: Sequence[Backend],
    texts: Sequence[str],
    *,
    warmup: int = 1,
    repeats: int = 3,
    paragraph: str = PARAGRAPH,
    stages: bool = True,
    flop_voice: Voice | None = None,
    flop_cfg: SynthesisConfig | None = None,
    progress: Progress | None = None,
) -> list[BenchResult]:
    """Benchmark `backends` side by side, interleaved: for each pass, for each text, each backend in turn.

    Warm-up passes run everything but are not recorded. After the timed passes come the stage splits
    (backends with `stage_times`, `repeats` passes each) and, if `flop_voice` is given, one FLOP count
    on the longest text, which is shared by all backends (they must run the same network).
    """
    if not backends:
        raise ValueError("run_backends needs at least one backend")
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise ValueError("run_backends needs at least one non-empty text")
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    names = [b.name for b in backends]
    if len(set(names)) != len(names):
        raise ValueError(f"backend names must differ, got {names}")
    step = progress or (lambda n: None)
    machine = _machine([b.device for b in backends])
    probe = MemoryProbe()
    tallies = [_Tally() for _ in backends]
    _LOG.info("benchmarking %s on %d texts: %d warm-up + %d measured passes", ", ".join(names), len(texts),
              warmup, repeats)

    for rep in range(warmup + repeats):
        measured = rep >= warmup
        for text in texts:
            for b, t in zip(backends, tallies):
                elapsed, samples, rate = _timed(b, b.synthesize, text, probe, t if measured else None)
                if measured:
                    t.latencies.append(elapsed)
                    t.samples.append(len(samples))
                    t.frames.append(len(samples) / b.hop_length)
                    t.sample_rate = rate
                step(1)
        if measured:
            n = len(texts)
            for t in tallies:
                t.passes.append((sum(t.latencies[-n:]), sum(t.samples[-n:])))
        for b, t in zip(backends, tallies):
            elapsed, _, _ = _timed(b, b.first_chunk, paragraph, probe, t if measured else None)
            if measured:
                t.ttfa.append(elapsed)
            step(1)

    if stages:
        for b, t in zip(backends, tallies):
            if not isinstance(b, StagedBackend):
                step(repeats * len(texts))
                continue
            runs: list[list[dict[str, float]]] = [[] for _ in texts]  # [text][repeat] -> stage seconds
            for _ in range(repeats):
                for i, text in enumerate(texts):
                    runs[i].append(b.stage_times(text))
                    step(1)
            for per_text in runs:  # per text, the median of the repeats (robust to a noisy neighbour)
                for k in per_text[0]:
                    t.stages[k] = t.stages.get(k, 0.0) + statistics.median(r.get(k, 0.0) for r in per_text)

    flop_count: FlopCount | None = None
    counted_on = ""
    if flop_voice is not None:
        longest = max(texts, key=len)
        flop_count = count_flops(flop_voice, longest, flop_cfg)
        counted_on = (f"sonorant's torch Vits of voice {flop_voice.name!r} (eager) on the longest text "
                      f"({len(longest)} characters)")
        step(1)

    machine = dataclasses.replace(machine, load_avg_1m_end=_load_avg())
    return [_result(b, t, machine, texts, repeats, warmup, probe, flop_count, counted_on)
            for b, t in zip(backends, tallies)]


def run_bench(
    voice: Voice,
    texts: Sequence[str],
    *,
    warmup: int = 1,
    repeats: int = 3,
    backend_name: str = "sonorant-eager",
    cfg: SynthesisConfig = SynthesisConfig(seed=0),
    paragraph: str = PARAGRAPH,
    stages: bool = True,
    flops: bool = True,
    progress: Progress | None = None,
) -> BenchResult:
    """Benchmark one sonorant voice on `texts`: latency, throughput, RTF, TTFA, frames, memory, stages, FLOPs."""
    backend = SonorantBackend(voice, cfg, backend_name)
    (result,) = run_backends([backend], texts, warmup=warmup, repeats=repeats, paragraph=paragraph, stages=stages,
                             flop_voice=voice if flops else None, flop_cfg=cfg, progress=progress)
    return result


def compare_ratios(sonorant: BenchResult, piper: BenchResult) -> dict[str, float]:
    """Ratios where > 1 means sonorant is behind: piper/sonorant throughput, sonorant/piper latency and TTFA."""

    def div(a: float, b: float) -> float:
        return a / b if b > 0 else float("nan")

    return {
        "throughput_piper_over_sonorant": div(piper.throughput.samples_per_s, sonorant.throughput.samples_per_s),
        "latency_p50_sonorant_over_piper": div(sonorant.latency_ms.p50, piper.latency_ms.p50),
        "ttfa_sonorant_over_piper": div(sonorant.ttfa_ms, piper.ttfa_ms),
        "rtf_sonorant_over_piper": div(sonorant.rtf, piper.rtf),
    }
