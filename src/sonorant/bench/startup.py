"""The command line side by side with Piper's: whole processes, as a user runs them.

    python -m sonorant.bench.startup [--repeats 3] [--json out.json] [sonorant speak options ...]

For a one-line text and a ~1,000-character text (`texts.ONE_LINE`, `texts.LONG_TEXT`), each repeat runs
`sonorant speak -o out.wav` and `python -m piper -m <the same voice's .onnx> -f out.wav` one after the
other (order alternating), text on standard input, and records each process's wall time (start to exit)
and peak resident memory (its own `ru_maxrss` from `wait4`). It reports the medians and the ratios
sonorant / Piper. Extra arguments go to `sonorant speak` (e.g. `--runtime eager`). One unmeasured run of
each comes first, so both find their files in the page cache and sonorant its exported graphs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .texts import LONG_TEXT, ONE_LINE


def run_process(argv: list[str], text: str) -> tuple[float, float]:
    """Run `argv` with `text` on standard input; (wall seconds, peak RSS in MiB). Fails loudly on an error."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write(text.encode("utf-8"))
    proc.stdin.close()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {proc.returncode}: {err.decode(errors='replace')[-2000:]}")
    return wall, usage.ru_maxrss / 1024.0  # KiB on Linux


def compare(repeats: int = 3, extra: list[str] | None = None) -> dict[str, Any]:
    """Medians over `repeats` interleaved runs of both command lines on both texts."""
    from ..voices.registry import locate

    _, model, _ = locate(None)
    out: dict[str, Any] = {"repeats": repeats, "sonorant_args": extra or [], "voice": str(model), "texts": {}}
    with tempfile.TemporaryDirectory() as tmp:
        wav = str(Path(tmp) / "out.wav")
        commands = {
            "sonorant": [sys.executable, "-m", "sonorant", "speak", "-o", wav, "--force", *(extra or [])],
            "piper": [sys.executable, "-m", "piper", "-m", str(model), "-f", wav],
        }
        for label, text in (("one_line", ONE_LINE), ("long", LONG_TEXT)):
            runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
            for name, argv in commands.items():  # unmeasured: page cache, exported graphs
                run_process(argv, text)
            for rep in range(repeats):
                order = list(commands) if rep % 2 == 0 else list(reversed(commands))
                for name in order:
                    runs[name].append(run_process(commands[name], text))
            row: dict[str, Any] = {"characters": len(text)}
            for name, values in runs.items():
                row[name] = {"wall_s": [w for w, _ in values], "peak_rss_mib": [m for _, m in values],
                             "wall_s_median": statistics.median(w for w, _ in values),
                             "peak_rss_mib_median": statistics.median(m for _, m in values)}
            row["wall_ratio_sonorant_over_piper"] = row["sonorant"]["wall_s_median"] / row["piper"]["wall_s_median"]
            row["rss_ratio_sonorant_over_piper"] = (row["sonorant"]["peak_rss_mib_median"]
                                                    / row["piper"]["peak_rss_mib_median"])
            out["texts"][label] = row
    return out


def format_comparison(result: dict[str, Any]) -> str:
    """A plain-text table of `compare`'s result."""
    lines = [f"{'text':<10} {'chars':>6} {'sonorant s':>11} {'piper s':>8} {'ratio':>6} {'sonorant MiB':>13} "
             f"{'piper MiB':>10} {'ratio':>6}"]
    for label, row in result["texts"].items():
        s, p = row["sonorant"], row["piper"]
        lines.append(f"{label:<10} {row['characters']:>6} {s['wall_s_median']:>11.2f} {p['wall_s_median']:>8.2f} "
                     f"{row['wall_ratio_sonorant_over_piper']:>6.2f} {s['peak_rss_mib_median']:>13.0f} "
                     f"{p['peak_rss_mib_median']:>10.0f} {row['rss_ratio_sonorant_over_piper']:>6.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m sonorant.bench.startup`."""
    parser = argparse.ArgumentParser(prog="python -m sonorant.bench.startup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="measured runs of each command per text (default 3)")
    parser.add_argument("--json", type=Path, default=None, help="write the runs and medians as JSON")
    args, extra = parser.parse_known_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    result = compare(args.repeats, extra)
    print(format_comparison(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
