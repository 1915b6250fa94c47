"""The go-live load test on a throwaway `local` environment (embedded PostgreSQL, supervisord, the Daraja
simulator, two service instances on free ports; tests/release/local_harness.py), through the real CLI:

- a release whose environment requires a load test runs it after the gates and records its figures;
- `fab loadtest` against the running environment (admin key resolved from its database, two workers) passes;
- a release with an injected slow endpoint passes the gates' window but misses the load test's SLO and is
  rolled back to the previous release, the failed load test in its audit record.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from foundation.repository import REPO_ROOT
from tests.loadtests.quick import DISTRIBUTED_THRESHOLDS, QUICK_KNOBS, STRICT_THRESHOLDS, TEST_THRESHOLDS
from tests.release.local_harness import (
    Fab,
    LocalStage,
    VersionRepo,
    bring_down,
    derive_environment,
    replace_once,
    seed_wheelhouses,
    short_tmp,
    write_environment,
)

pytestmark = pytest.mark.slow

RELEASED, ROLLED_BACK = 0, 1
SLOW = "    await __import__('asyncio').sleep(1.0)  # injected: a slow endpoint\n"


@dataclass
class World:
    repo: VersionRepo
    fab: Fab
    stage: LocalStage
    strict_env: Path  # the same environment, its load test held to STRICT_THRESHOLDS (for the release that must miss)
    distributed_slo: Path  # DISTRIBUTED_THRESHOLDS, for `fab loadtest --workers`

    def version(self, tag: str) -> str:
        return self.repo.sha(tag)[:12]


@pytest.fixture(scope="module")
def world(shared_wheelhouses: Path) -> Iterator[World]:
    base = short_tmp("gl-lt-")
    stage = None
    try:
        repo = VersionRepo.copy_of(REPO_ROOT, base / "repo")
        payments = repo.read("app/api/payments.py")
        signature = "async def list_packages(svc: ServicesDep) -> list[PackageOut]:\n"
        repo.version("slow-packages", {"app/api/payments.py": replace_once(payments, signature, signature + SLOW)})
        state = base / "ctl"
        seed_wheelhouses(state / "artifacts", shared_wheelhouses)
        slo = base / "slo.yml"
        slo.write_text(yaml.safe_dump(TEST_THRESHOLDS.as_dict()))
        strict = base / "strict-slo.yml"
        strict.write_text(yaml.safe_dump(STRICT_THRESHOLDS.as_dict()))
        distributed = base / "distributed-slo.yml"
        distributed.write_text(yaml.safe_dump(DISTRIBUTED_THRESHOLDS.as_dict()))
        env_file = base / "proof.yml"
        # Bounded by count, not time: however starved the machine, the run ends with the same number of requests.
        loadtest = {
            "required": True,
            "users": 6,
            "spawn_rate": 6,
            "duration": 60,
            "max_requests": 100,
            "slo": str(slo),
            "knobs": QUICK_KNOBS,
        }
        raw = write_environment(env_file, base / "env", loadtest=loadtest)
        strict_env = derive_environment(base / "proof-strict.yml", raw, loadtest={**loadtest, "slo": str(strict)})
        stage = LocalStage(env_file, state)
        yield World(repo, Fab(repo.path, state, env_file), stage, strict_env, distributed)
    finally:
        leftovers = bring_down(stage, base) if stage is not None else []
        shutil.rmtree(base, ignore_errors=True)
        assert not leftovers, f"processes of the test environment were left running: {leftovers}"


def _runs(world: World) -> list[Path]:
    folder = world.stage.state / "loadtests" / "proof"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_dry_run_shows_the_load_test_after_the_gates(world: World):
    result = world.fab.run("release", "--version", "v1", "--dry-run")
    assert result.code == RELEASED, result
    lines = result.output.splitlines()
    observe = next(i for i, line in enumerate(lines) if line.strip().startswith("observe"))
    assert lines[observe + 1].strip().startswith("loadtest: 6 users for 60 s or 100 requests, whichever comes first"), (
        result.output
    )


def test_a_release_runs_the_required_load_test_and_records_it(world: World):
    result = world.fab.run("release", "--version", "v1")
    record = world.stage.audit_entries()[-1]
    assert result.code == RELEASED, (result, record.get("loadtest"))
    assert "load test PASSED" in result.output
    assert record["outcome"] == "released"
    loadtest = record["loadtest"]
    assert loadtest["passed"] is True and all(check["passed"] for check in loadtest["checks"].values())
    assert loadtest["figures"]["requests"] >= TEST_THRESHOLDS.min_requests
    assert loadtest["figures"]["payments"] >= TEST_THRESHOLDS.min_payments
    assert len(_runs(world)) == 1 and (_runs(world)[0] / "report.html").is_file()


def test_fab_loadtest_against_the_running_environment_with_two_workers(world: World):
    before = len(_runs(world))
    result = world.fab.run("loadtest", "--workers", "2", "--duration", "5", "--slo", str(world.distributed_slo))
    assert result.code == 0, result
    assert "load test PASSED" in result.output and "2 workers" in result.output
    assert len(_runs(world)) == before + 1
    record = world.stage.audit_entries()[-1]
    assert record["kind"] == "loadtest" and record["loadtest"]["workers"] == 2
    assert record["loadtest"]["checks"]["requests"]["passed"]


@pytest.mark.timeout(1200)  # a release, a load test and a rollback, then the environment brought down: a hang guard
def test_a_slow_release_misses_the_slo_and_is_rolled_back(world: World):
    good = world.stage.current()
    assert good is not None and good.endswith(world.version("v1"))
    result = world.fab.run("release", "--version", "slow-packages", env_file=world.strict_env)
    assert result.code == ROLLED_BACK, result
    assert "load test FAILED" in result.output and "missed its SLO" in result.output
    record = world.stage.audit_entries()[-1]
    assert record["outcome"] == "rolled back" and record["gate_verdict"] == "pass"  # the gates' window passed
    assert record["loadtest"]["passed"] is False
    failed = {name for name, check in record["loadtest"]["checks"].items() if not check["passed"]}
    assert failed & {"p95", "p99"}, record["loadtest"]
    # The endpoint that sleeps 1 s is one request in several: its share of the run sets which tail it reaches, and
    # the slowest 1 % always holds it.
    assert record["loadtest"]["figures"]["p99_ms"] >= 1000, record["loadtest"]["figures"]
    world.stage.assert_consistent(good)  # every instance back on v1
