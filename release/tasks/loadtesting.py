"""fab loadtest — a bounded, headless Locust run against an environment's entry point, held to its SLO."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from invoke import task
from invoke.exceptions import Exit

from foundation.audit import AuditLog
from foundation.environment import REPO_ROOT
from foundation.reporter import Reporter
from release.engine import controller_identity
from release.gates import loadtest as loadtest_gate
from release.tasks.context import environment

PASSED, FAILED, REFUSED = 0, 1, 2


@task(
    help={
        "env": "target environment (its entry_url is load-tested)",
        "users": "concurrent users (default: the environment's loadtest.users, else 10)",
        "duration": "seconds of load (default: loadtest.duration, else 20)",
        "spawn-rate": "users started per second (default: half the users per second)",
        "workers": "0: one Locust process; K: a master and K local worker processes",
        "slo": "a thresholds file over loadtests/slo/<env>.yml (see loadtests/README.md)",
    }
)
def loadtest(c, env=None, users=None, duration=None, spawn_rate=None, workers=None, slo=None) -> None:  # noqa: PLR0917 (fab options)
    """Load-test an environment: fab loadtest --env local [--users 20 --duration 30 --spawn-rate 5 --workers 2].

    Writes CSV, HTML and JSON reports to state/loadtests/<env>/<timestamp>/ and an audit record.
    Exit codes: 0 every SLO threshold passed, 1 a threshold failed, 2 could not run (bad option, environment down).
    """
    target = environment(env)
    reporter = Reporter()
    state = Path(os.environ.get("GOLIVE_RELEASE_STATE", REPO_ROOT / "state"))
    try:
        spec = loadtest_gate.spec_for(
            target, users=users, duration=duration, spawn_rate=spawn_rate, workers=workers, slo_file=slo
        )
        loadtest_gate.ensure_running(target)
        spec = dataclasses.replace(spec, admin_key=loadtest_gate.resolve_admin_key(target, state))
        reporter.title(f"load test of {target.name} ({target.entry_url})")
        result = loadtest_gate.run(spec, state, reporter)
    except loadtest_gate.LoadTestError as exc:
        raise Exit(f"loadtest refused: {exc}", code=REFUSED) from None
    AuditLog(state / target.name / "audit.jsonl").append(
        {"kind": "loadtest", "env": target.name, "by": controller_identity(), "loadtest": result.audit()}
    )
    if not result.passed:
        raise Exit(code=FAILED)
