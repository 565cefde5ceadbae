"""Benchmark results: one frozen dataclass per group of numbers, `BenchResult.to_dict()` for JSON.

Latency percentiles are named as percentiles (p50/p90/p95/p99), not as confidence intervals.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class LatencyStats:
    """Per-utterance latency in milliseconds over all measured calls."""

    mean: float
    """Mean latency."""
    std: float
    """Sample standard deviation (0 for a single call)."""
    p50: float
    """50th percentile (median)."""
    p90: float
    """90th percentile."""
    p95: float
    """95th percentile."""
    p99: float
    """99th percentile."""
    min: float
    """Fastest call."""
    max: float
    """Slowest call."""


@dataclass(frozen=True)
class Throughput:
    """Audio produced per wall-clock second over all measured calls."""

    samples_per_s: float
    """Audio samples per second of wall time."""
    x_real_time: float
    """Seconds of audio per second of wall time (1 / RTF)."""


@dataclass(frozen=True)
class FrameStats:
    """Model frames per utterance (measured samples / hop length)."""

    mean: float
    """Mean frames per utterance."""
    min: float
    """Fewest frames."""
    max: float
    """Most frames."""


@dataclass(frozen=True)
class StageTime:
    """Time in one pipeline stage, per pass over the texts."""

    seconds: float
    """Seconds per pass over all texts (per text, the median of the repeats)."""
    percent: float
    """Share of the stages' total."""


@dataclass(frozen=True)
class FlopStats:
    """Arithmetic work and how fast it was done."""

    gflop_per_audio_second: float
    """Model GFLOP per second of audio (matmul and convolution FLOPs, counted once)."""
    achieved_gflops: float
    """GFLOP per audio second x audio seconds / wall seconds."""
    peak_gflops: float
    """Estimated peak FP32 GFLOP/s of the CPU cores this process may use."""
    utilization: float
    """achieved / peak (0..1)."""
    peak_note: str
    """How the peak was estimated, and its assumptions."""
    counted_on: str
    """What the FLOPs were counted on (model and text)."""
    by_stage_gflop_per_audio_second: dict[str, float] = field(default_factory=dict)
    """The count split by model stage."""


@dataclass(frozen=True)
class MachineInfo:
    """Where and when the benchmark ran."""

    cpu_model: str
    """/proc/cpuinfo "model name"."""
    cores: int
    """Physical cores this process may use."""
    logical_cpus: int
    """Logical CPUs this process may use."""
    cpu_mhz: float
    """Clock used for the peak estimate."""
    torch_threads: int
    """torch.get_num_threads()."""
    torch_version: str
    """torch.__version__."""
    python_version: str
    """platform.python_version()."""
    platform: str
    """platform.platform()."""
    date: str
    """Start time, ISO 8601 with UTC offset."""
    load_avg_1m: float
    """1-minute load average at the start (other work on the machine skews timings)."""
    load_avg_1m_end: float = 0.0
    """1-minute load average at the end (includes the benchmark's own threads)."""
    gpu: str = ""
    """CUDA device name when a backend ran on CUDA."""


@dataclass(frozen=True)
class BenchResult:
    """One backend's benchmark: every number in the report's column for it."""

    backend: str
    """Backend name."""
    device: str
    """Device the model ran on."""
    machine: MachineInfo
    """Machine, software versions and date."""
    n_texts: int
    """Texts per pass."""
    repeats: int
    """Measured passes over the texts."""
    warmup: int
    """Unmeasured passes before them."""
    threads: int
    """Intra-op threads of the backend (0: its runtime's default)."""
    sample_rate: int
    """Output sample rate."""
    latency_ms: LatencyStats
    """Per-utterance latency."""
    throughput: Throughput
    """Samples and audio seconds per wall second."""
    rtf: float
    """Real-time factor: total wall seconds / total measured audio seconds."""
    rtf_by_pass: tuple[float, ...]
    """RTF of each measured pass over the texts; the smallest is the least disturbed by other load."""
    wall_seconds: float
    """Total wall time of the measured calls."""
    audio_seconds: float
    """Total audio of the measured calls, from their samples."""
    frames_per_utterance: FrameStats
    """Model frames per utterance."""
    ttfa_ms: float
    """Time to first audio on the paragraph: median over repeats."""
    ttfa_ms_all: tuple[float, ...]
    """Every measured time to first audio."""
    stage_split: dict[str, StageTime]
    """Seconds and percent per stage (empty if the backend cannot split)."""
    peak_memory_mb: float
    """Process peak RSS during this backend's calls (MiB); shared process, so includes other backends' weights."""
    peak_memory_delta_mb: float
    """Largest RSS growth within one call (MiB): the call's own working memory."""
    memory_method: str
    """How memory was measured."""
    cuda_peak_memory_mb: float
    """torch.cuda.max_memory_allocated over the calls (MiB; 0 off CUDA)."""
    flops: FlopStats | None
    """FLOP counts and utilisation (None if not counted)."""
    latencies_ms: tuple[float, ...]
    """Every measured latency, in call order."""
    front_end_chars_per_s: float = 0.0
    """Characters of the texts per second of the stage split's front end (normalize, split, phonemize,
    ids; one thread); 0 when the backend cannot split its stages."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (nested dataclasses become dicts)."""
        return asdict(self)
