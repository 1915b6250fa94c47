"""Real Locust runs against the real service: one that passes its thresholds, one made to fail them by a
slow Daraja (every payment's STK push answers late), and the distributed mode with two local workers."""

from __future__ import annotations

import json

import pytest

from tests.loadtests.quick import STRICT_THRESHOLDS
from tests.support.service import phone

pytestmark = pytest.mark.slow


def _failed(result) -> set[str]:
    return {check["name"] for check in result.verdict["checks"] if not check["passed"]}


def test_a_healthy_service_passes_its_thresholds(load):
    result = load()
    assert result.passed, result.summary_lines()
    assert result.exit_code == 0
    figures = result.figures
    assert figures["requests"] >= 50 and figures["failures"] == 0
    assert figures["payments"] >= 5 and figures["paid"] == figures["payments"]  # cancelled ones ended failed
    for report in ("report.html", "report.json", "locust_stats.csv", "locust_failures.csv", "slo.json", "summary.txt"):
        assert (result.run_dir / report).is_file(), report
    names = {entry["name"] for entry in json.loads((result.run_dir / "report.json").read_text())}
    assert {"/api/payments", "/api/payments/[id]", "/api/health", "/api/admin/feature-flags"} <= names


def test_a_slow_daraja_fails_the_latency_thresholds(load, sim, service):
    assert service.pay(phone()).status_code == 202  # the shared Daraja token is fetched before Daraja slows down
    sim.configure(response_delay=2.0)  # every STK push answers after 2 s: POST /api/payments is slow
    result = load(duration=8, thresholds=STRICT_THRESHOLDS)
    assert not result.passed
    assert result.exit_code == 1
    # The pushes are a few percent of the requests: their slowness shows at the tail (p99), at p95 when more.
    assert _failed(result) & {"p95", "p99"}, result.summary_lines()
    assert result.figures["p99_ms"] >= 2000
    assert result.figures["failures"] == 0  # nothing failed outright: the latency alone fails the run


def test_two_local_workers_share_the_load(load):
    result = load(workers=2, users=6)
    assert result.passed, result.summary_lines()
    log = (result.run_dir / "locust.log").read_text()  # the master's
    assert "2 workers connected" in log, log[-2000:]
    assert "Sending spawn jobs of 6 users at 6.00 spawn rate to 2 ready workers" in log, log[-2000:]
    assert result.figures["requests"] >= 50 and result.figures["payments"] >= 5  # the workers' figures, aggregated


def test_a_run_is_bounded_in_count_as_well_as_in_time(load):
    result = load(duration=60, max_requests=60)  # the cap stops it long before its run time
    # Uncapped, the run alone would last 60 s (start-up comes on top): stopping before that is the cap's doing.
    assert result.seconds < 60, result.seconds
    # The cap counts every entry Locust records (the settled-payment entries too); the figures count HTTP requests.
    assert 0 < result.figures["requests"] < 400
    assert (result.run_dir / "report.html").is_file()  # stopped early, still reported
    assert "request cap of 60 reached" in (result.run_dir / "locust.log").read_text()
