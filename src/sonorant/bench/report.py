"""Benchmark reports: a terminal table (rich if installed), JSON, CSV, a PNG plot and a Markdown table.

The table follows the TensorRT Tacotron2 benchmark table (seed 004) with one column per backend:
latency mean/std and percentiles p50/p90/p95/p99 (named as what they are: percentiles, not confidence
intervals), throughput in samples/s and x real time, RTF, time to first audio, frames per utterance,
peak memory and GFLOP/s; then the stage split and, when comparing, the ratios.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .results import BenchResult


@dataclass(frozen=True)
class BenchReport:
    """The results of one `sonorant bench` run, with what produced them."""

    results: tuple[BenchResult, ...]
    """One result per backend, in column order (sonorant first)."""
    ratios: dict[str, float] | None = None
    """Comparison ratios (`runner.compare_ratios`) when a peer ran; > 1 means sonorant is behind."""
    command: str = ""
    """The exact command line that reproduces the run."""
    settings: dict[str, Any] = field(default_factory=dict)
    """Run settings worth recording (seed, texts source, paragraph words, ...)."""
    ratios_by_backend: dict[str, dict[str, float]] | None = None
    """With several sonorant runtimes and a peer: each runtime's ratios to the peer (`ratios` is the first's)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        first = self.results[0] if self.results else None
        return {
            "command": self.command,
            "date": first.machine.date if first else "",
            "settings": dict(self.settings),
            "results": [r.to_dict() for r in self.results],
            "ratios": self.ratios,
            "ratios_by_backend": self.ratios_by_backend,
        }

    def write_json(self, path: str | Path) -> Path:
        """Write the report as JSON."""
        return write_json(self, path)

    def write_csv(self, path: str | Path) -> Path:
        """Write one CSV row per backend."""
        return write_csv(self, path)

    def plot_png(self, path: str | Path) -> Path:
        """Plot latency distributions and RTF per backend."""
        return plot_png(self, path)


# --- the table ----------------------------------------------------------------------------------------


def _num(v: float, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))):
        return "-"
    return f"{v:,.{digits}f}"


_Row = tuple[str, Callable[[BenchResult], str]]

_ROWS: tuple[_Row, ...] = (
    ("Latency mean (ms)", lambda r: _num(r.latency_ms.mean)),
    ("Latency std (ms)", lambda r: _num(r.latency_ms.std)),
    ("Latency p50 (ms)", lambda r: _num(r.latency_ms.p50)),
    ("Latency p90 (ms)", lambda r: _num(r.latency_ms.p90)),
    ("Latency p95 (ms)", lambda r: _num(r.latency_ms.p95)),
    ("Latency p99 (ms)", lambda r: _num(r.latency_ms.p99)),
    ("Throughput (samples/s)", lambda r: _num(r.throughput.samples_per_s, 0)),
    ("Throughput (x real time)", lambda r: _num(r.throughput.x_real_time, 2)),
    ("RTF (wall / audio)", lambda r: _num(r.rtf, 4)),
    ("RTF best pass", lambda r: _num(min(r.rtf_by_pass), 4) if r.rtf_by_pass else "-"),
    ("Time to first audio (ms)", lambda r: _num(r.ttfa_ms)),
    ("Frames / utterance mean", lambda r: _num(r.frames_per_utterance.mean)),
    ("Frames / utterance min-max", lambda r: f"{r.frames_per_utterance.min:.0f}-{r.frames_per_utterance.max:.0f}"),
    ("Audio / utterance (s)", lambda r: _num(r.audio_seconds / max(len(r.latencies_ms), 1), 2)),
    ("Peak RSS (MiB)", lambda r: _num(r.peak_memory_mb, 0)),
    ("RSS growth in a call (MiB)", lambda r: _num(r.peak_memory_delta_mb, 0)),
    ("GFLOP / audio second", lambda r: _num(r.flops.gflop_per_audio_second, 2) if r.flops else "-"),
    ("Achieved GFLOP/s", lambda r: _num(r.flops.achieved_gflops, 1) if r.flops else "-"),
    ("Utilisation of peak (%)", lambda r: _num(100 * r.flops.utilization, 1) if r.flops else "-"),
    ("Front end (characters/s, one thread)", lambda r: _num(r.front_end_chars_per_s, 0) if r.front_end_chars_per_s else "-"),
)


def table_rows(results: Sequence[BenchResult]) -> list[list[str]]:
    """The table as rows of strings: a header row, then one row per metric, one column per backend."""
    rows = [["metric", *(r.backend for r in results)]]
    rows += [[label, *(fn(r) for r in results)] for label, fn in _ROWS]
    if any(r.cuda_peak_memory_mb > 0 for r in results):
        rows.append(["CUDA peak allocated (MiB)", *(_num(r.cuda_peak_memory_mb, 0) for r in results)])
    stages: list[str] = []
    for r in results:
        stages += [s for s in r.stage_split if s not in stages]
    for s in stages:
        rows.append([f"Stage {s} (s, %)", *(
            f"{r.stage_split[s].seconds:.3f} ({r.stage_split[s].percent:.1f} %)" if s in r.stage_split else "-"
            for r in results
        )])
    return rows


def _ratio_lines(ratios: dict[str, float] | None, by_backend: dict[str, dict[str, float]] | None = None) -> list[str]:
    if by_backend:
        return [line.replace("Ratios", f"Ratios of {name}", 1) for name, r in by_backend.items()
                for line in _ratio_lines(r)]
    if not ratios:
        return []
    names = {
        "throughput_piper_over_sonorant": "throughput piper / sonorant",
        "latency_p50_sonorant_over_piper": "latency p50 sonorant / piper",
        "ttfa_sonorant_over_piper": "time to first audio sonorant / piper",
        "rtf_sonorant_over_piper": "RTF sonorant / piper",
    }
    parts = [f"{names.get(k, k)} = {_num(v, 2)}" for k, v in ratios.items()]
    return ["Ratios (> 1: sonorant behind): " + "; ".join(parts)]


def _context_lines(report: BenchReport) -> list[str]:
    if not report.results:
        return []
    r = report.results[0]
    m = r.machine
    lines = [
        f"{m.date} | {m.cpu_model}, {m.cores} cores @ {m.cpu_mhz:.0f} MHz, torch {m.torch_version} "
        f"({m.torch_threads} threads), load average {m.load_avg_1m} at start, {m.load_avg_1m_end} at end",
        f"{r.n_texts} texts x {r.repeats} repeats after {r.warmup} warm-up; memory: {r.memory_method}",
    ]
    if report.command:
        lines.append(f"command: {report.command}")
    return lines


def render_table(report: BenchReport) -> str:
    """The table as plain aligned text (what `print_table` shows when rich is absent)."""
    rows = table_rows(report.results)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:], widths[1:]))]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join([*out, *_ratio_lines(report.ratios, report.ratios_by_backend), *_context_lines(report)])


def print_table(report: BenchReport, file: TextIO | None = None) -> None:
    """Print the table to `file` (stdout): a rich table if rich is installed, else plain text."""
    file = file or sys.stdout
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(render_table(report), file=file)
        return
    rows = table_rows(report.results)
    table = Table(title="sonorant bench", show_lines=False)
    table.add_column(rows[0][0])
    for name in rows[0][1:]:
        table.add_column(name, justify="right")
    for row in rows[1:]:
        table.add_row(*row)
    console = Console(file=file, width=max(100, 34 + 22 * len(report.results)))
    console.print(table)
    for line in [*_ratio_lines(report.ratios, report.ratios_by_backend), *_context_lines(report)]:
        console.print(line, highlight=False, markup=False)


# --- files --------------------------------------------------------------------------------------------


def _clean(obj: Any) -> Any:
    """JSON has no NaN/Infinity: write them as null."""
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def write_json(report: BenchReport, path: str | Path) -> Path:
    """Write `report` as indented JSON; returns the path."""
    path = Path(path)
    path.write_text(json.dumps(_clean(report.to_dict()), indent=2) + "\n", encoding="utf-8")
    return path


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> dotted keys; lists and tuples (raw per-call samples) are left out."""
    flat: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            flat.update(flatten(v, key + "."))
        elif not isinstance(v, (list, tuple)):
            flat[key] = v
    return flat


def write_csv(report: BenchReport, path: str | Path) -> Path:
    """One row per backend, flattened dotted keys as columns (the union over backends); returns the path."""
    path = Path(path)
    rows = [flatten(r.to_dict()) for r in report.results]
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def plot_png(report: BenchReport, path: str | Path) -> Path:
    """Latency distribution per backend (violin with box) and RTF per backend (bars), as a PNG."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        from ..errors import SonorantError

        raise SonorantError("--plot needs matplotlib: pip install 'sonorant[bench]'") from None
    path = Path(path)
    results = report.results
    names = [r.backend for r in results]
    fig = Figure(figsize=(4 + 2.2 * len(results), 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax_lat, ax_rtf = fig.subplots(1, 2, width_ratios=[3, 2])
    data = [list(r.latencies_ms) for r in results]
    positions = list(range(1, len(results) + 1))
    if all(len(d) > 1 for d in data):
        ax_lat.violinplot(data, positions=positions, showextrema=False)
    ax_lat.boxplot(data, positions=positions, widths=0.25, showfliers=True)
    ax_lat.set_xticks(positions, names)
    ax_lat.set_ylabel("latency per utterance (ms)")
    ax_lat.set_title("Latency distribution")
    ax_lat.grid(axis="y", alpha=0.3)
    rtfs = [r.rtf for r in results]
    bars = ax_rtf.bar(names, rtfs, color=["tab:blue", "tab:orange", "tab:green", "tab:red"][: len(results)])
    ax_rtf.bar_label(bars, labels=[f"{v:.4f}" for v in rtfs])
    ax_rtf.set_ylabel("RTF (wall / audio, lower is faster)")
    ax_rtf.set_title("Real-time factor")
    ax_rtf.grid(axis="y", alpha=0.3)
    if results:
        m = results[0].machine
        fig.suptitle(f"sonorant bench - {m.cpu_model}, {m.cores} cores, {m.date[:10]}", fontsize=10)
    fig.savefig(path, dpi=110)
    return path


def markdown_table(results: BenchReport | Sequence[BenchResult], command: str = "") -> str:
    """A Markdown table for the README, headed by the date, the machine and the exact command."""
    report = results if isinstance(results, BenchReport) else BenchReport(tuple(results), command=command)
    command = command or report.command
    rows = table_rows(report.results)
    lines = []
    if report.results:
        r = report.results[0]
        m = r.machine
        lines += [
            f"Measured {m.date} on {m.cpu_model} ({m.cores} cores @ {m.cpu_mhz:.0f} MHz, {m.logical_cpus} logical CPUs"
            f"{', ' + m.gpu if m.gpu else ''}), torch {m.torch_version} with {m.torch_threads} threads, "
            f"Python {m.python_version}; load average {m.load_avg_1m} at start, {m.load_avg_1m_end} at end. "
            f"{r.n_texts} texts x {r.repeats} repeats after {r.warmup} warm-up pass(es).",
            "",
        ]
    if command:
        lines += ["```", command, "```", ""]
    lines.append("| " + " | ".join(rows[0]) + " |")
    lines.append("|---|" + "---:|" * (len(rows[0]) - 1))
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    ratio = _ratio_lines(report.ratios, report.ratios_by_backend)
    if ratio:
        lines += ["", *ratio]
    if report.results and report.results[0].flops:
        lines += ["", f"Peak estimate: {report.results[0].flops.peak_note}"]
    return "\n".join(lines) + "\n"
