"""`sonorant bench`: the runner's numbers are consistent, reports carry every field, the CLI writes its files."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import sonorant
from sonorant.bench.cli import add_bench_parser, command_line, run_bench_command
from sonorant.bench.flops import cpu_info, estimate_peak, flops_per_cycle
from sonorant.bench.peers import piper_available
from sonorant.bench.report import BenchReport, flatten, markdown_table, render_table
from sonorant.bench.runner import BenchResult, compare_ratios, planned_steps, run_backends, run_bench
from sonorant.bench.stages import STAGES
from sonorant.bench.texts import DEFAULT_TEXTS, PARAGRAPH, load_texts
from sonorant.errors import ConfigError

TEXTS = ["Hello there.", "Is it raining outside?", "Please close the door behind you."]
SHORT_PARAGRAPH = "Good morning. How are you today? The weather is fine."


@pytest.fixture(scope="module")
def voice() -> sonorant.Voice:
    """The bundled joe voice, loaded once for this module."""
    return sonorant.load_voice()


@pytest.fixture(scope="module")
def result(voice: sonorant.Voice) -> BenchResult:
    """One quick sonorant run: 3 short texts, 1 warm-up, 1 repeat."""
    return run_bench(voice, TEXTS, warmup=1, repeats=1, cfg=sonorant.SynthesisConfig(seed=3),
                     paragraph=SHORT_PARAGRAPH)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sonorant")
    add_bench_parser(parser.add_subparsers(dest="command", required=True))
    return parser


# --- texts --------------------------------------------------------------------------------------------


def test_default_texts_are_varied() -> None:
    assert len(DEFAULT_TEXTS) >= 20 and len(set(DEFAULT_TEXTS)) == len(DEFAULT_TEXTS)
    words = sorted(len(t.split()) for t in DEFAULT_TEXTS)
    assert words[0] <= 3 and words[-1] >= 20
    assert sum(t.endswith("?") for t in DEFAULT_TEXTS) >= 3
    assert not any(ch.isdigit() for t in DEFAULT_TEXTS for ch in t)  # numbers are spelled as words
    assert 130 <= len(PARAGRAPH.split()) <= 170


def test_load_texts_skips_blank_lines_and_rejects_empty_files(tmp_path: Path) -> None:
    good = tmp_path / "texts.txt"
    good.write_text("One.\n\n   \nTwo words.\n", encoding="utf-8")
    assert load_texts(good) == ["One.", "Two words."]
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no texts"):
        load_texts(empty)
    with pytest.raises(ConfigError, match="not found"):
        load_texts(tmp_path / "missing.txt")


# --- the runner on a fake backend (exact arithmetic, no model) ------------------------------------------


class _Fake:
    """Returns 100 samples per character after a short sleep; records the call order."""

    hop_length = 100
    device = "cpu"

    def __init__(self, name: str, calls: list[str], delay: float) -> None:
        self.name, self.calls, self.delay = name, calls, delay

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        self.calls.append(self.name)
        time.sleep(self.delay)
        return np.zeros(100 * len(text), np.float32), 1000

    def first_chunk(self, text: str) -> tuple[np.ndarray, int]:
        self.calls.append(self.name + ":first")
        return np.zeros(100, np.float32), 1000


def test_runner_interleaves_and_measures_audio_from_samples() -> None:
    calls: list[str] = []
    a, b = _Fake("a", calls, 0.002), _Fake("b", calls, 0.004)
    results = run_backends([a, b], ["xx", "xxxx"], warmup=1, repeats=2, paragraph="p")
    assert calls[:6] == ["a", "b", "a", "b", "a:first", "b:first"]  # each text: a then b; then TTFA
    assert len(calls) == 3 * 6
    ra, rb = results
    assert ra.latency_ms.min >= 2.0 and rb.latency_ms.min >= 4.0
    assert ra.audio_seconds == pytest.approx(2 * (200 + 400) / 1000)  # 2 repeats, from the samples
    assert ra.frames_per_utterance == type(ra.frames_per_utterance)(3.0, 2.0, 4.0)
    assert ra.stage_split == {} and ra.flops is None and len(ra.ttfa_ms_all) == 2
    assert len(ra.rtf_by_pass) == 2 and min(ra.rtf_by_pass) <= ra.rtf <= max(ra.rtf_by_pass)
    assert compare_ratios(ra, rb)["latency_p50_sonorant_over_piper"] < 1.0


def test_planned_steps_matches_progress_calls() -> None:
    calls: list[str] = []
    steps: list[int] = []
    run_backends([_Fake("a", calls, 0.0)], ["x", "y"], warmup=1, repeats=2, paragraph="p", progress=steps.append)
    assert sum(steps) == planned_steps(1, 2, warmup=1, repeats=2, flops=False)


def test_peak_flops_formula() -> None:
    assert flops_per_cycle(frozenset({"avx512f", "avx2", "fma"})) == 64
    assert flops_per_cycle(frozenset({"avx2", "fma"})) == 32
    assert flops_per_cycle(frozenset({"sse2"})) == 8
    info = cpu_info()
    peak = estimate_peak(info)
    assert peak.gflops == pytest.approx(info.cores * info.mhz / 1000 * peak.flops_per_cycle)
    assert "cores x clock" in peak.note


# --- a real sonorant run --------------------------------------------------------------------------------


def test_result_has_sane_latency_and_throughput(result: BenchResult) -> None:
    lat = result.latency_ms
    assert result.backend == "sonorant-eager" and result.device == "cpu"
    assert result.n_texts == 3 and result.repeats == 1 and len(result.latencies_ms) == 3
    assert 0 < lat.min <= lat.p50 <= lat.p90 <= lat.p95 <= lat.p99 <= lat.max
    assert lat.min <= lat.mean <= lat.max and lat.std >= 0
    assert result.wall_seconds == pytest.approx(sum(result.latencies_ms) / 1000)
    assert result.rtf == pytest.approx(result.wall_seconds / result.audio_seconds)
    assert result.rtf_by_pass == pytest.approx((result.rtf,))  # one pass: the same
    assert result.throughput.x_real_time == pytest.approx(1 / result.rtf)
    assert result.throughput.samples_per_s == pytest.approx(result.audio_seconds * result.sample_rate
                                                            / result.wall_seconds)
    assert result.sample_rate == 22050 and 1.0 < result.audio_seconds < 20.0


def test_result_frames_ttfa_memory_stages_flops(result: BenchResult) -> None:
    f = result.frames_per_utterance
    assert 0 < f.min <= f.mean <= f.max and f.min == int(f.min)  # sonorant audio is whole frames
    assert result.audio_seconds == pytest.approx(f.mean * 3 * 256 / 22050)
    assert result.ttfa_ms > 0 and len(result.ttfa_ms_all) == 1
    assert result.peak_memory_mb > 50 and result.peak_memory_delta_mb >= 0 and result.memory_method
    assert list(result.stage_split) == list(STAGES)
    assert sum(s.percent for s in result.stage_split.values()) == pytest.approx(100.0)
    assert all(s.seconds >= 0 for s in result.stage_split.values()) and result.stage_split["vocode"].seconds > 0
    chars = sum(map(len, TEXTS))  # per pass over the texts, in the front end's seconds per pass
    assert result.front_end_chars_per_s == pytest.approx(chars / result.stage_split["front_end"].seconds)
    fl = result.flops
    assert fl is not None and 1.0 < fl.gflop_per_audio_second < 50.0  # joe-medium: ~6-9 GFLOP per audio second
    assert fl.achieved_gflops == pytest.approx(fl.gflop_per_audio_second * result.audio_seconds / result.wall_seconds)
    assert 0 < fl.utilization < 1 and fl.peak_gflops > 0 and "cores" in fl.peak_note
    split = fl.by_stage_gflop_per_audio_second
    assert set(split) == {"encode", "frames", "vocode"}
    assert sum(split.values()) == pytest.approx(fl.gflop_per_audio_second)
    assert split["vocode"] > split["frames"] > split["encode"] > 0  # joe: the decoder does most of the work
    m = result.machine
    assert m.cpu_model and m.cores >= 1 and m.torch_threads >= 1 and m.torch_version == torch.__version__
    assert dt.datetime.fromisoformat(m.date).tzinfo is not None


def test_json_csv_and_markdown(result: BenchResult, tmp_path: Path) -> None:
    report = BenchReport((result,), command="sonorant bench --quick")
    data = json.loads(report.write_json(tmp_path / "r.json").read_text())
    (r,) = data["results"]
    for key in ("backend", "device", "machine", "n_texts", "repeats", "latency_ms", "throughput", "rtf",
                "frames_per_utterance", "ttfa_ms", "stage_split", "peak_memory_mb", "flops"):
        assert key in r, key
    assert set(r["latency_ms"]) >= {"mean", "std", "p50", "p90", "p95", "p99"}
    assert set(r["throughput"]) == {"samples_per_s", "x_real_time"}
    assert set(r["flops"]) >= {"gflop_per_audio_second", "achieved_gflops", "peak_gflops", "utilization", "peak_note"}
    assert set(r["machine"]) >= {"cpu_model", "cores", "torch_threads", "torch_version", "date"}
    assert data["command"] == "sonorant bench --quick" and data["ratios"] is None
    with report.write_csv(tmp_path / "r.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and rows[0]["backend"] == "sonorant-eager"
    assert float(rows[0]["latency_ms.p50"]) == pytest.approx(result.latency_ms.p50)
    assert "stage_split.vocode.percent" in rows[0] and "latencies_ms" not in rows[0]
    md = markdown_table(report)
    assert "sonorant bench --quick" in md and result.machine.cpu_model in md and "| Latency p99 (ms) |" in md
    assert "RTF" in render_table(report)
    assert set(flatten({"a": {"b": 1, "c": [1]}, "d": 2})) == {"a.b", "d"}


def test_plot_writes_a_png(result: BenchResult, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = BenchReport((result,)).plot_png(tmp_path / "bench.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_onnx_runtime_is_split_at_the_runtime_seam() -> None:
    pytest.importorskip("onnxruntime")
    onnx_voice = sonorant.load_voice(runtime="onnx")
    res = run_bench(onnx_voice, TEXTS[:2], warmup=1, repeats=1, backend_name="sonorant-onnx",
                    paragraph=SHORT_PARAGRAPH)
    assert res.backend == "sonorant-onnx" and res.device == "cpu"
    assert list(res.stage_split) == list(STAGES)
    assert sum(s.percent for s in res.stage_split.values()) == pytest.approx(100.0)
    assert res.flops is not None and res.flops.gflop_per_audio_second > 1.0  # counted on the torch twin


@pytest.mark.gpu
def test_cuda_run_syncs_and_reports_cuda_memory(voice: sonorant.Voice) -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from sonorant.runtimes import EagerRuntime

    model = sonorant.load_voice().model
    cuda_voice = sonorant.Voice(model, voice.config, voice.name, runtime=EagerRuntime(model, "cuda"))
    res = run_bench(cuda_voice, TEXTS[:2], warmup=1, repeats=1, paragraph=SHORT_PARAGRAPH, flops=False)
    assert res.device.startswith("cuda") and res.cuda_peak_memory_mb > 0 and res.machine.gpu


# --- the command line -----------------------------------------------------------------------------------


def test_cli_runtime_choices_match_the_runtimes() -> None:
    from sonorant.bench.cli import RUNTIME_CHOICES
    from sonorant.runtimes import RUNTIMES

    assert tuple(RUNTIME_CHOICES) == ("auto", *RUNTIMES)
    assert _parser().parse_args(["bench", "--runtime", "onnx"]).runtime == ("onnx",)
    args = _parser().parse_args(["bench", "--runtime", "eager, onnx"])
    assert args.runtime == ("eager", "onnx") and "--runtime eager,onnx" in command_line(args)
    for bad in ("cuda", "eager,eager", ","):
        with pytest.raises(SystemExit):
            _parser().parse_args(["bench", "--runtime", bad])


def test_cli_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="repeats"):
        run_bench_command(_parser().parse_args(["bench", "--repeats", "0"]))
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="no texts"):
        run_bench_command(_parser().parse_args(["bench", "--texts", str(empty)]))


def test_cli_compare_piper_writes_every_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    out = {ext: tmp_path / f"bench.{ext}" for ext in ("json", "csv", "png", "md")}
    argv = ["bench", "--texts", str(texts), "--quick", "--warmup", "0", "--seed", "7", "--json", str(out["json"]),
            "--csv", str(out["csv"]), "--markdown", str(out["md"])]
    compare = piper_available()
    if compare:
        argv += ["--compare", "piper"]
    try:
        import onnxruntime  # noqa: F401
        runtimes = ["eager", "onnx"]  # two runtimes side by side, interleaved
    except ImportError:
        runtimes = ["eager"]
    argv += ["--runtime", ",".join(runtimes)]
    has_mpl = True
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        has_mpl = False
    if has_mpl:
        argv += ["--plot", str(out["png"])]
    args = _parser().parse_args(argv)
    assert command_line(args).startswith("sonorant bench --runtime " if len(runtimes) > 1 else "sonorant bench --texts ")
    assert run_bench_command(args) == 0
    table = capsys.readouterr().out
    assert "Latency p50 (ms)" in table and all(f"sonorant-{r}" in table for r in runtimes)

    data = json.loads(out["json"].read_text())
    names = [r["backend"] for r in data["results"]]
    assert data["settings"]["n_texts"] == 3 and data["settings"]["repeats"] == 1
    assert all(r["repeats"] == 1 and r["n_texts"] == 3 for r in data["results"])
    with out["csv"].open() as f:
        assert [row["backend"] for row in csv.DictReader(f)] == names
    assert "--compare piper" in out["md"].read_text() or not compare
    if has_mpl:
        assert out["png"].read_bytes()[:4] == b"\x89PNG"
    if not compare:
        pytest.skip("piper-tts absent: compared run not checked")
    assert names == [*(f"sonorant-{r}" for r in runtimes), "piper"]
    ratios = data["ratios"]
    if len(runtimes) > 1:  # each runtime's ratios to piper; `ratios` is the first runtime's
        assert list(data["ratios_by_backend"]) == names[:-1] and data["ratios_by_backend"]["sonorant-eager"] == ratios
        assert all(f"Ratios of {n}" in table for n in names[:-1])
    else:
        assert data["ratios_by_backend"] is None
    assert set(ratios) >= {"throughput_piper_over_sonorant", "latency_p50_sonorant_over_piper",
                           "ttfa_sonorant_over_piper"}
    son, pip = data["results"][0], data["results"][-1]
    assert ratios["throughput_piper_over_sonorant"] == pytest.approx(
        pip["throughput"]["samples_per_s"] / son["throughput"]["samples_per_s"])
    assert ratios["latency_p50_sonorant_over_piper"] == pytest.approx(
        son["latency_ms"]["p50"] / pip["latency_ms"]["p50"])
    assert all(math.isfinite(v) and v > 0 for v in ratios.values())
    assert set(pip["stage_split"]) == {"front_end", "model"} and pip["front_end_chars_per_s"] > 0
    # same voice, same network: audio lengths agree within Piper's unseeded duration noise
    assert pip["audio_seconds"] == pytest.approx(son["audio_seconds"], rel=0.3)


def test_cli_checks_its_outputs_before_measuring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    import sonorant as package

    def no_voice(*args: object, **kwargs: object) -> None:
        raise AssertionError("the benchmark started before its options were checked")

    monkeypatch.setattr(package, "load_voice", no_voice)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    with pytest.raises(ConfigError, match="--plot needs matplotlib"):
        run_bench_command(_parser().parse_args(["bench", "--plot", str(tmp_path / "p.png")]))
    with pytest.raises(ConfigError, match="does not exist"):
        run_bench_command(_parser().parse_args(["bench", "--json", str(tmp_path / "no" / "r.json")]))
    with pytest.raises(ConfigError, match="--mode offline measures one runtime"):
        run_bench_command(_parser().parse_args(["bench", "--mode", "offline", "--compare", "piper"]))


def test_offline_and_streams_modes_on_the_cpu(voice: sonorant.Voice) -> None:
    from sonorant.bench.modes import concurrent_streams, format_modes, mode_report, offline_throughput

    rows = offline_throughput(voice, TEXTS[:2], (1, 2), utterances=4, repeats=1, gflop_per_audio_second=5.8)
    assert [r.batch_size for r in rows] == [1, 2] and all(r.utterances == 4 for r in rows)
    assert rows[0].audio_seconds == pytest.approx(rows[1].audio_seconds)  # the same audio at any batch size
    assert all(r.x_real_time == pytest.approx(r.audio_seconds / r.wall_seconds) for r in rows)
    assert all(r.achieved_tflops == pytest.approx(5.8 * r.x_real_time / 1000) for r in rows)
    streams = concurrent_streams(voice, TEXTS[:2], 3, cfg=sonorant.SynthesisConfig(seed=3))
    assert streams.streams == 3 and 0 < streams.first_audio_ms_p50 <= streams.first_audio_ms_p99
    assert streams.first_audio_ms_p99 <= 1000 * streams.wall_seconds and streams.audio_seconds > 0
    text = format_modes(mode_report(voice, rows, [streams], "sonorant bench --mode offline"))
    assert "Offline throughput" in text and "Concurrent streams" in text
