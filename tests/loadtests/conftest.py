"""A load test's target: the real service on a free port (tests/support: embedded PostgreSQL, the Daraja
simulator as a real process) and an admin key made in its database. Locust runs as real processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtests import runner, slo
from loadtests.runner import LoadSpec
from tests.support.service import new_admin_key

# Small, fast users so that a run of a few seconds has hundreds of requests and dozens of payments.
QUICK_KNOBS = {
    "GOLIVE_LOADTEST_THINK_MIN": "0.05",
    "GOLIVE_LOADTEST_THINK_MAX": "0.2",
    "GOLIVE_LOADTEST_ADMIN_THINK_MIN": "0.3",
    "GOLIVE_LOADTEST_ADMIN_THINK_MAX": "0.8",
    "GOLIVE_LOADTEST_POLL_SECONDS": "0.1",
    "GOLIVE_LOADTEST_SETTLE_SECONDS": "5",
    "GOLIVE_LOADTEST_RETRY_SHARE": "0.2",
    "GOLIVE_LOADTEST_PHONE_ENDINGS": "00,00,00,32",  # a quarter of the payers cancel: the system must say so
}
# What these tests hold the service to: met easily on loopback, missed when Daraja answers slowly.
TEST_THRESHOLDS = slo.Thresholds(
    p95_ms=300, p99_ms=600, max_failure_ratio=0.01, min_requests=50, min_payment_success=0.95, min_payments=5
)


@pytest.fixture(scope="module")
def admin_key(db_url: str) -> str:
    return new_admin_key(db_url)


@pytest.fixture
def load(service, sim, admin_key, tmp_path: Path):
    """Runs a load test against the session's service; returns its LoadResult."""

    def run(**overrides) -> runner.LoadResult:
        values = {
            "host": service.url,
            "env": "test",
            "users": 6,
            "spawn_rate": 6,
            "duration": 6,
            "thresholds": TEST_THRESHOLDS,
            "admin_key": admin_key,
            "knobs": QUICK_KNOBS,
        }
        values.update(overrides)
        spec = LoadSpec(**values)
        result = runner.run(spec, runner.run_folder(tmp_path, spec.env))
        print("\n".join(result.summary_lines()))  # shown when a test fails
        return result

    return run
