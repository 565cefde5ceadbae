"""The benchmark table of NVIDIA's Tacotron2 + WaveGlow TensorRT demo (`sonorant bench --mode seed`), for any
family.

The demo times one call per iteration over a batch of identical texts, its first `input_length`
characters of one fixed sentence, after 3 unmeasured iterations, and reports: average latency and its
standard deviation, the "confidence interval" latencies (the largest of the fastest 90 / 95 / 99 % of
iterations), throughput in audio samples per second, mels per utterance, audio seconds per utterance and
the real-time factor (audio seconds per wall second). This module measures the same quantities through
`Engine.synthesize` (ids in, trimmed float32 audio on the host out; the front end is not timed, as the
demo times from padded ids). Each row of the batch has its own seed (the demo's dropout masks differ per
row too), so rows of an autoregressive family can differ in length.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..engine import Utterance

if TYPE_CHECKING:
    from .. import SynthesisConfig, Voice

SEED_TEXT = ("A journey of a thousand miles begins with a single step, and the printed page keeps the record of "
             "every step that was taken, so that a reader who comes later can follow the same road without fear.")
"""The text whose first `input_length` characters every row speaks (ours; the demo's own is similar prose)."""
SEED_WARMUP = 3
"""Unmeasured iterations before timing, as the demo does."""


@dataclass(frozen=True)
class SeedRow:
    """One row of the demo's table."""

    framework: str
    """What ran (sonorant-<runtime>, with the decode block where the family has one)."""
    batch_size: int
    """Utterances per call."""
    input_length: int
    """Characters of text per utterance."""
    precision: str
    """The vocoder's arithmetic."""
    latency_avg: float
    """Mean seconds per call."""
    latency_std: float
    """Standard deviation of the seconds per call."""
    latency_90: float
    """Largest latency among the fastest 90 % of calls (the demo's "confidence interval 90 %")."""
    latency_95: float
    """Likewise for 95 %."""
    latency_99: float
    """Likewise for 99 %."""
    throughput: float
    """Audio samples produced per second, averaged over calls."""
    mels: float
    """Frames (mels) per utterance, averaged."""
    audio_seconds: float
    """Audio seconds per utterance, averaged."""
    rtf: float
    """Audio seconds of the whole batch per wall second, averaged over calls."""
    iterations: int
    """Timed calls."""
    speedup: float = 1.0
    """Latency of the table's first row at this batch size over this row's (the demo's speed-up column)."""


def _interval(latencies: Sequence[float], share: float) -> float:
    ordered = sorted(latencies)
    return max(ordered[: max(1, int(len(ordered) * share))])


def seed_rows(voice: Voice, batch_sizes: Sequence[int], *, input_length: int = 128, iterations: int = 20,
              warmup: int = SEED_WARMUP, cfg: SynthesisConfig | None = None, framework: str | None = None,
              text: str = SEED_TEXT) -> list[SeedRow]:
    """Measure `voice` at each batch size, the demo's way (see the module docstring)."""
    if input_length < 1 or iterations < 1:
        raise ValueError("input_length and iterations must be positive")
    resolved = voice.resolve(cfg)
    snippet = (text * (input_length // len(text) + 1))[:input_length]
    ids = tuple(i for p in voice.plan(snippet, resolved.normalize_text) for i in p.ids)
    precision = str(getattr(voice.runtime, "precision", "fp32"))
    name = framework or f"sonorant-{voice.runtime.name}"
    hop, rate, device = voice.engine.hop, voice.sample_rate, voice.device
    rows = []
    for bs in batch_sizes:
        base = resolved.seed or 0
        utts = [Utterance(ids, base + i, resolved.knobs, resolved.speaker_id) for i in range(bs)]
        for _ in range(warmup):
            voice.engine.synthesize(utts, max_batch=bs)
        lat, thr, mels, secs = [], [], [], []
        for _ in range(iterations):
            _sync(device)
            start = time.perf_counter()
            out = voice.engine.synthesize(utts, max_batch=bs)
            wall = time.perf_counter() - start
            samples = sum(len(a) for a in out)
            lat.append(wall)
            thr.append(samples / wall)
            mels.append(float(np.mean([len(a) / hop for a in out])))
            secs.append(samples / rate / len(out))
        rows.append(SeedRow(
            name, bs, input_length, precision, statistics.fmean(lat), float(np.std(lat)), _interval(lat, 0.90),
            _interval(lat, 0.95), _interval(lat, 0.99), statistics.fmean(thr), statistics.fmean(mels),
            statistics.fmean(secs), statistics.fmean(s * bs / w for s, w in zip(secs, lat)), iterations))
    return rows


def with_speedups(rows: Sequence[SeedRow]) -> list[SeedRow]:
    """`rows` with `speedup` against the first row of the same batch size and input length."""
    from dataclasses import replace

    first: dict[tuple[int, int], float] = {}
    out = []
    for r in rows:
        ref = first.setdefault((r.batch_size, r.input_length), r.latency_avg)
        out.append(replace(r, speedup=ref / r.latency_avg if r.latency_avg > 0 else 0.0))
    return out


HEADER = ("|Framework|Batch size|Input length|Precision|Avg latency (s)|Latency std (s)|"
          "Latency confidence interval 90% (s)|Latency confidence interval 95% (s)|"
          "Latency confidence interval 99% (s)|Throughput (samples/sec)|Speed-up|"
          "Avg mels generated|Avg audio length (s)|Avg RTF|")


def format_seed_table(rows: Sequence[SeedRow]) -> str:
    """The rows as the demo's Markdown table (its column order and number formats)."""
    lines = [HEADER, "|" + "---:|" * 14]
    for r in rows:
        lines.append(f"|{r.framework}|{r.batch_size}|{r.input_length}|{r.precision.upper()}|{r.latency_avg:.2f}|"
                     f"{r.latency_std:.2f}|{r.latency_90:.2f}|{r.latency_95:.2f}|{r.latency_99:.2f}|"
                     f"{r.throughput:,.0f}|{r.speedup:.2f}|{r.mels:.0f}|{r.audio_seconds:.2f}|{r.rtf:.1f}|")
    return "\n".join(lines)


def seed_report(rows: Sequence[SeedRow], voice: Voice, command: str = "") -> dict[str, Any]:
    """A JSON-friendly report: the rows, the machine and the command."""
    import datetime as dt
    import platform

    return {"command": command, "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "voice": voice.name, "family": voice.family, "device": voice.device, "machine": platform.processor()
            or platform.machine(), "python": platform.python_version(), "rows": [asdict(r) for r in rows]}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize(torch.device(device))
