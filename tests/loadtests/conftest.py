"""A load test's target: the real service on a free port (tests/support: embedded PostgreSQL, the Daraja
simulator as a real process) and an admin key made in its database. Locust runs as real processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.state import StateLayout
from loadtests import runner
from loadtests.runner import LoadSpec
from tests.loadtests.quick import QUICK_KNOBS, TEST_THRESHOLDS
from tests.support.service import new_admin_key


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
        result = runner.run(spec, runner.run_folder(StateLayout(tmp_path), spec.env))
        print("\n".join(result.summary_lines()))  # shown when a test fails
        return result

    return run
