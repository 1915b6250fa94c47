"""fab loadtest — a bounded, headless Locust run against an environment's entry point, held to its SLO."""

from __future__ import annotations

from invoke import task

from release.exit_codes import ExitCode
from release.operations.loadtesting import loadtest as run_loadtest
from release.tasks.context import controller, exits


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
@exits
def loadtest(c, env=None, users=None, duration=None, spawn_rate=None, workers=None, slo=None) -> ExitCode:  # noqa: PLR0917 (fab options)
    """Load-test an environment: fab loadtest --env local [--users 20 --duration 30 --spawn-rate 5 --workers 2].

    Writes CSV, HTML and JSON reports to state/loadtests/<env>/<timestamp>/ and an audit record.
    Exit codes: 0 every SLO threshold passed, 1 a threshold failed, 2 could not run (bad option, environment down).
    """
    return run_loadtest(
        controller(env), users=users, duration=duration, spawn_rate=spawn_rate, workers=workers, slo_file=slo
    )
