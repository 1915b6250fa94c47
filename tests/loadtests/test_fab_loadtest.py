"""`fab loadtest` through the real CLI: refusals (exit 2) with a clear message, and real runs against the real
service described by a throwaway environment file — a pass (exit 0, two workers) and a fail (exit 1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from foundation.audit import AuditLog
from foundation.repository import REPO_ROOT
from loadtests import slo as slo_module
from tests.loadtests.quick import DISTRIBUTED_THRESHOLDS, QUICK_KNOBS, STRICT_THRESHOLDS, TEST_THRESHOLDS
from tests.support.processes import free_port
from tests.support.service import phone

FAB = Path(sys.executable).parent / "fab"


def environment_file(tmp_path: Path, entry_url: str, thresholds: slo_module.Thresholds = TEST_THRESHOLDS) -> Path:
    """A copy of local.yml whose entry point is `entry_url` and whose load test uses the tests' knobs and SLO."""
    slo = tmp_path / "slo.yml"
    slo.write_text(yaml.safe_dump(thresholds.as_dict()))
    raw = yaml.safe_load((REPO_ROOT / "release" / "environments" / "local.yml").read_text())
    raw.update(
        name="ltproof",
        root=str(tmp_path / "root"),
        database="url",
        entry_url=entry_url,
        loadtest={"required": False, "users": 6, "duration": 6, "slo": str(slo), "knobs": QUICK_KNOBS},
    )
    path = tmp_path / "ltproof.yml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def fab(tmp_path: Path, env_file: Path | str, *args: str, admin_key: str = "not-needed") -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GOLIVE_")}
    env.update(GOLIVE_RELEASE_STATE=str(tmp_path / "state"), GOLIVE_ADMIN_API_KEY=admin_key, NO_COLOR="1", TERM="dumb")
    result = subprocess.run(
        [str(FAB), "-r", str(REPO_ROOT), "loadtest", "--env", str(env_file), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    print(result.stdout, result.stderr)
    return result


def test_an_environment_that_is_not_running_is_refused(tmp_path):
    result = fab(tmp_path, environment_file(tmp_path, f"http://127.0.0.1:{free_port()}"))
    assert result.returncode == 2
    assert "the ltproof environment is not running" in result.stderr
    assert "nothing answers on http://127.0.0.1:" in result.stderr
    assert not (tmp_path / "state" / "loadtests").exists()  # no run, no folder


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--users", "0"), "--users must be between 1 and 2000"),
        (("--duration", "soon"), "--duration must be a number"),
        (("--workers", "64"), "--workers must be between 0 and 8"),
    ],
)
def test_bad_options_are_refused_before_anything_runs(tmp_path, args, message):
    result = fab(tmp_path, environment_file(tmp_path, f"http://127.0.0.1:{free_port()}"), *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_an_unknown_environment_is_named(tmp_path):
    result = fab(tmp_path, "nowhere")
    assert result.returncode == 2 and "unknown environment 'nowhere'" in result.stderr


@pytest.mark.slow
def test_a_passing_run_with_two_workers_exits_0_and_is_audited(tmp_path, service, sim, admin_key):
    env_file = environment_file(tmp_path, service.url, DISTRIBUTED_THRESHOLDS)
    result = fab(tmp_path, env_file, "--workers", "2", admin_key=admin_key)
    assert result.returncode == 0, result.stdout
    assert "load test PASSED" in result.stdout and "2 workers" in result.stdout
    (run,) = (tmp_path / "state" / "loadtests" / "ltproof").iterdir()
    assert {"report.html", "report.json", "locust_stats.csv", "slo.json", "summary.txt"} <= {
        p.name for p in run.iterdir()
    }
    record = AuditLog(tmp_path / "state" / "ltproof" / "audit.jsonl").entries()[-1]
    assert record["kind"] == "loadtest" and record["loadtest"]["passed"] is True
    assert record["loadtest"]["workers"] == 2
    assert record["loadtest"]["figures"]["requests"] >= DISTRIBUTED_THRESHOLDS.min_requests
    assert admin_key not in (tmp_path / "state" / "ltproof" / "audit.jsonl").read_text()


@pytest.mark.slow
def test_a_run_that_misses_its_slo_exits_1_and_is_audited(tmp_path, service, sim, admin_key):
    assert service.pay(phone()).status_code == 202  # the shared Daraja token is fetched before Daraja slows down
    sim.configure(response_delay=2.0)  # Daraja slow: the payments' tail latency misses the SLO
    result = fab(tmp_path, environment_file(tmp_path, service.url, STRICT_THRESHOLDS), admin_key=admin_key)
    assert result.returncode == 1, result.stdout
    assert "load test FAILED" in result.stdout and "FAIL" in result.stdout
    record = AuditLog(tmp_path / "state" / "ltproof" / "audit.jsonl").entries()[-1]
    assert record["loadtest"]["passed"] is False
    assert not all(check["passed"] for check in record["loadtest"]["checks"].values())
