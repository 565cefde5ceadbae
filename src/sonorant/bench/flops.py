"""FLOPs per second of audio (counted on the model) and the machine's estimated peak FP32 GFLOP/s.

`count_flops` runs one utterance through the voice under `torch.utils.flop_counter.FlopCounterMode`,
which counts the FLOPs of matmuls and convolutions (2 per multiply-add; element-wise ops are not
counted), and divides by the audio seconds measured from the samples it returned.

`estimate_peak` reads the CPU from /proc/cpuinfo (and `lscpu` for a max clock when it reports one):
peak = cores x clock x FP32 FLOPs per cycle per core, the last picked from the CPU flags.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .. import SynthesisConfig, Voice

_LOG = logging.getLogger(__name__)



@dataclass(frozen=True)
class FlopCount:
    """FLOPs of one utterance through the model, and the audio it produced."""

    total_flops: int
    """Matmul and convolution FLOPs of the whole utterance (2 per multiply-add)."""
    audio_seconds: float
    """Seconds of audio the utterance produced, measured from its samples."""
    by_stage: dict[str, int] = field(default_factory=dict)
    """FLOPs per stage of the family contract (encode, frames, vocode)."""
    text: str = ""
    """The text that was counted."""

    @property
    def gflop_per_audio_second(self) -> float:
        """GFLOP spent per second of audio."""
        return self.total_flops / 1e9 / self.audio_seconds if self.audio_seconds > 0 else 0.0


@dataclass(frozen=True)
class CpuInfo:
    """What /proc/cpuinfo and lscpu say about this machine's CPU."""

    model: str
    """The "model name" line (e.g. "AMD EPYC"), or the platform's processor string."""
    cores: int
    """Physical cores this process may run on."""
    logical_cpus: int
    """Logical CPUs this process may run on."""
    mhz: float
    """Clock in MHz: lscpu's max MHz when it reports one, else the highest "cpu MHz" in /proc/cpuinfo."""
    mhz_source: str
    """Where `mhz` came from."""
    flags: frozenset[str]
    """CPU feature flags."""


@dataclass(frozen=True)
class PeakEstimate:
    """An estimated peak FP32 rate, with the formula and assumptions behind it."""

    gflops: float
    """Estimated peak FP32 GFLOP/s of the cores this process may use (0 if unknown)."""
    flops_per_cycle: int
    """FP32 FLOPs per cycle per core assumed from the flags."""
    note: str
    """The formula with its numbers, and the assumptions."""


def count_flops(voice: Voice, text: str, cfg: SynthesisConfig | None = None) -> FlopCount:
    """Count the FLOPs of `voice.synthesize(text, cfg)` once, per stage, with the audio seconds it produced.

    The FLOP counter sees torch operators only; a runtime outside torch (ONNX Runtime) runs the same
    network, so its work is counted on the model it was exported from, run eagerly on the CPU.
    """
    import copy

    from ..engine import Engine
    from .flop_runtime import CountingRuntime

    model = voice.model
    if next(model.parameters()).device.type != "cpu":  # count on a CPU copy; the voice's model stays put
        model = copy.deepcopy(model).cpu()
    runtime = CountingRuntime(model)
    twin = copy.copy(voice)
    twin.engine = Engine(runtime, voice.engine.buckets)
    audio = twin.synthesize(text, cfg)
    audio_seconds = len(audio.samples) / audio.sample_rate
    by_stage = {k: v for k, v in runtime.flops.items() if v}
    total = sum(by_stage.values())
    _LOG.info("counted %.2f GFLOP for %.2f s of audio (%.2f GFLOP per audio second)",
              total / 1e9, audio_seconds, total / 1e9 / max(audio_seconds, 1e-9))
    return FlopCount(total, audio_seconds, by_stage, text)


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _lscpu_max_mhz() -> float | None:
    exe = shutil.which("lscpu")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"^CPU max MHz:\s*([\d.]+)", out, re.MULTILINE)
    return float(match.group(1)) if match else None


def cpu_info() -> CpuInfo:
    """Read the CPU model, core count, clock and flags of this machine (Linux; best effort elsewhere)."""
    import platform

    text = _read("/proc/cpuinfo")
    blocks = [b for b in text.split("\n\n") if b.strip()]
    fields = [dict((k.strip(), v.strip()) for k, _, v in (ln.partition(":") for ln in b.splitlines())) for b in blocks]
    try:
        allowed = os.sched_getaffinity(0)
    except AttributeError:
        allowed = set(range(os.cpu_count() or 1))
    mine = [f for f in fields if f.get("processor", "").isdigit() and int(f["processor"]) in allowed] or fields
    model = next((f["model name"] for f in mine if f.get("model name")), "") or platform.processor() or "unknown"
    core_ids = {(f.get("physical id", "0"), f.get("core id")) for f in mine if f.get("core id") is not None}
    logical = len(allowed) or 1
    cores = min(len(core_ids), logical) if core_ids else logical
    clocks = [float(f["cpu MHz"]) for f in mine if _is_float(f.get("cpu MHz", ""))]
    max_mhz = _lscpu_max_mhz()
    if max_mhz:
        mhz, source = max_mhz, "lscpu CPU max MHz"
    elif clocks:
        mhz, source = max(clocks), "/proc/cpuinfo cpu MHz"
    else:
        mhz, source = 0.0, "unknown"
    flags = frozenset(next((f["flags"] for f in mine if f.get("flags")), "").split())
    return CpuInfo(model, cores, logical, mhz, source, flags)


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def flops_per_cycle(flags: frozenset[str]) -> int:
    """FP32 FLOPs per cycle per core assumed from CPU flags: avx512f 64, avx2+fma 32, otherwise 8."""
    if "avx512f" in flags:
        return 64
    if "avx2" in flags and "fma" in flags:
        return 32
    return 8


def estimate_peak(info: CpuInfo | None = None) -> PeakEstimate:
    """Peak FP32 GFLOP/s = cores x clock (GHz) x FLOPs/cycle/core, with the assumptions spelled out."""
    info = info or cpu_info()
    per_cycle = flops_per_cycle(info.flags)
    gflops = info.cores * info.mhz / 1000.0 * per_cycle
    isa = "avx512f" if per_cycle == 64 else "avx2+fma" if per_cycle == 32 else "no avx2+fma"
    note = (
        f"peak = cores x clock x FP32 FLOPs/cycle/core = {info.cores} x {info.mhz / 1000:.3f} GHz x {per_cycle} "
        f"= {gflops:.1f} GFLOP/s. Clock from {info.mhz_source}; turbo and thermal limits ignored. FLOPs/cycle from "
        f"the CPU flags ({isa}): avx512f 64 (two 512-bit FMA pipes), avx2+fma 32 (two 256-bit FMA pipes), else 8. "
        "A hypervisor may hide flags (then this underestimates), and cores with one FMA pipe or clocks that drop "
        "under wide vectors make it an overestimate. Achieved GFLOP/s counts only matmul and convolution FLOPs."
    )
    return PeakEstimate(gflops, per_cycle, note)
