"""The Locust side of the SLO: a request-count guard and the quitting listener that turns the run's figures into
pass/fail, sets `environment.process_exit_code` (0 explicitly on success: otherwise any single failed request
makes Locust exit 1) and writes the verdict as JSON for the runner. On a worker it does nothing: the master
holds the aggregated figures."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import WorkerRunner
from locust.stats import RequestStats, StatsEntry

from loadtests import slo
from loadtests.contract import (
    ENV_VARIABLE,
    MAX_REQUESTS_VARIABLE,
    PAYMENT_EVENT,
    RESULT_VARIABLE,
    SETTLED,
    THRESHOLDS_VARIABLE,
)

log = logging.getLogger("loadtests")


def figures_of(stats: RequestStats) -> slo.Figures:
    """HTTP requests aggregated apart from the PAYMENT entries (a payment's settle time is not a response time)."""
    http = StatsEntry(stats, "HTTP", "", use_response_times_cache=False)
    payments = StatsEntry(stats, PAYMENT_EVENT, "", use_response_times_cache=False)
    for entry in stats.entries.values():
        (payments if entry.method == PAYMENT_EVENT else http).extend(entry)
    duration = (http.last_request_timestamp or http.start_time) - http.start_time if http.num_requests else 0.0
    return slo.Figures(
        requests=http.num_requests,
        failures=http.num_failures,
        rps=http.num_requests / duration if duration > 0 else 0.0,
        p50_ms=http.get_response_time_percentile(0.50) if http.num_requests else 0.0,
        p95_ms=http.get_response_time_percentile(0.95) if http.num_requests else 0.0,
        p99_ms=http.get_response_time_percentile(0.99) if http.num_requests else 0.0,
        max_ms=http.max_response_time,
        duration_s=duration,
        payments=payments.num_requests,
        paid=payments.num_requests - payments.num_failures,
    )


def thresholds() -> slo.Thresholds:
    raw = os.environ.get(THRESHOLDS_VARIABLE)
    if raw:
        return slo.from_mapping(json.loads(raw))
    return slo.load_thresholds(os.environ.get(ENV_VARIABLE) or None)


def verdict(environment: Environment) -> dict[str, Any]:
    figures = figures_of(environment.stats)
    limits = thresholds()
    checks = slo.evaluate(limits, figures)
    payment_entry = environment.stats.entries.get((SETTLED, PAYMENT_EVENT))
    settle = {}
    if payment_entry is not None and payment_entry.num_requests:
        settle = {
            "payment_settle_p50_ms": payment_entry.get_response_time_percentile(0.5),
            "payment_settle_p95_ms": payment_entry.get_response_time_percentile(0.95),
        }
    return {
        "passed": slo.passed(checks),
        "figures": {**figures.as_dict(), **settle},
        "thresholds": limits.as_dict(),
        "checks": [vars(check) for check in checks],
        "errors": [
            {"name": error.name, "error": str(error.error)[:200], "count": error.occurrences}
            for error in list(environment.stats.errors.values())[:10]
        ],
    }


def _guard(environment: Environment, most: int) -> None:
    """Stops the run once `most` requests were made (bounded in count as well as in time)."""
    while True:
        gevent.sleep(0.5)
        if environment.stats.total.num_requests >= most:
            log.warning("request cap of %d reached: stopping", most)
            assert environment.runner is not None
            environment.runner.quit()
            return


def register(events) -> None:
    @events.test_start.add_listener
    def start_guard(environment: Environment, **_kwargs: Any) -> None:
        most = int(os.environ.get(MAX_REQUESTS_VARIABLE) or 0)
        if most > 0 and not isinstance(environment.runner, WorkerRunner):
            gevent.spawn(_guard, environment, most)

    @events.quitting.add_listener
    def apply_slo(environment: Environment, **_kwargs: Any) -> None:
        if isinstance(environment.runner, WorkerRunner):
            return
        result = verdict(environment)
        environment.process_exit_code = 0 if result["passed"] else 1
        for check in result["checks"]:
            log.info(
                "SLO %s: %s (limit %s) %s",
                check["name"],
                check["value"],
                check["limit"],
                "pass" if check["passed"] else "FAIL",
            )
        target = os.environ.get(RESULT_VARIABLE)
        if target:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            Path(target).write_text(json.dumps(result, indent=2) + "\n")
