"""A small version of the load test (few clients, tiny voice): it checks completeness and survival, not speed."""

from __future__ import annotations

import asyncio

import pytest
from serve_support import start_server

import sonorant
from sonorant.serve import ServeConfig
from sonorant.serve.loadtest import LoadTestConfig, jobs, plan, run_load_test


def test_plan_has_the_requested_mix() -> None:
    cfg = LoadTestConfig(clients=32, requests=4, disconnect=0.15, bad=0.1, short_jobs=8, long_jobs=4)
    rows = plan(cfg, len(jobs(cfg)))
    kinds = [k for row in rows for k, _ in row]
    assert len(rows) == 32 and all(len(r) == 4 for r in rows)
    assert kinds.count("disconnect") >= 0.15 * 128
    assert sum(kinds.count(k) for k in ("too_long", "too_big", "malformed")) >= 0.1 * 128
    assert {"stream", "wav", "too_long", "too_big", "malformed"} <= set(kinds)
    assert all(job >= cfg.short_jobs for row in rows for k, job in row if k == "disconnect")  # long texts


def test_small_load_test_passes(steady_voice: sonorant.Voice) -> None:
    running = start_server([steady_voice], ServeConfig(batch_wait_ms=10))
    try:
        cfg = LoadTestConfig(clients=6, requests=3, short_jobs=3, long_jobs=2, max_seconds=300, ramp_s=1.0)
        report = asyncio.run(asyncio.wait_for(run_load_test(running.url, cfg), cfg.max_seconds))
    finally:
        running.server.stop()
    assert report.passed, report.summary()
    assert report.crashes == 0 and report.server_errors == 0 and not report.incomplete
    assert report.load_requests == 18 and report.disconnects >= 3
    assert report.bad_total >= 2 and report.bad_answered == report.bad_total
    assert report.rss_before_mib and report.rss_after_mib and report.rss_peak_mib >= report.rss_before_mib
    assert report.ttfa_single_p50 > 0 and report.ttfa_load_p50 > 0 and report.throughput_load > 0
    assert "PASSED" in report.summary()


@pytest.mark.parametrize("field", ["clients", "requests", "baseline_passes"])
def test_a_load_test_needs_at_least_one_of_each(field: str) -> None:
    with pytest.raises(sonorant.ConfigError, match=field):
        LoadTestConfig(**{field: 0})
