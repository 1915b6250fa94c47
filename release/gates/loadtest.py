"""The load test as the release tooling runs it: `fab loadtest` and, where the environment says
`loadtest: {required: true}`, the go-live gate after the gates' observation window.

An environment's `loadtest` settings (release/environments/<env>.yml), every key optional:
required (false), users (10), duration (seconds, 20), spawn_rate (users/2), workers (0), max_requests,
slo (a thresholds file over loadtests/slo/<env>.yml) and knobs ({GOLIVE_LOADTEST_*: value}, e.g. a buyer
weight of 0 where buyers would pay for real). Command-line options win over the settings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from foundation.admin_client import AdminKeyMissing, admin_key
from foundation.environment import Environment
from foundation.reporter import Reporter
from foundation.repository import REPO_ROOT
from foundation.state import StateLayout
from loadtests import runner, slo
from loadtests.knobs import KnobInvalid, from_environ
from loadtests.runner import LoadResult, LoadSpec, LoadTestError
from release import local_env


class LoadTestFailed(Exception):
    """The load test ran and missed its SLO, or could not run: the release treats it as a failed gate."""


def required(env: Environment) -> bool:
    return env.loadtest.required


def _number(value: Any, name: str, kind: type) -> Any:
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise LoadTestError(f"{name} must be a {'whole ' if kind is int else ''}number, not {value!r}") from None


def spec_for(
    env: Environment,
    *,
    users: Any = None,
    duration: Any = None,
    spawn_rate: Any = None,
    workers: Any = None,
    slo_file: str | None = None,
    admin: str | None = None,
) -> LoadSpec:
    """The load test of `env`: its settings, overridden by what is given (strings from the command line too)."""
    settings = env.loadtest
    users = _number(users if users is not None else settings.users, "--users", int)
    knobs = dict(settings.knobs)
    # Verified against the environment's own CA where it has one (the lab's), the system's for staging/production.
    ca_file = env.tls_verify if isinstance(env.tls_verify, str) else None
    verified = ca_file is not None or env.name in ("staging", "production")
    knobs.setdefault("GOLIVE_LOADTEST_VERIFY_TLS", "1" if verified else "0")
    try:
        from_environ({**os.environ, **knobs})  # refuse bad knobs here, not in every Locust process
        # --slo is relative to where fab runs; an environment's loadtest.slo to the repository.
        override = Path(slo_file) if slo_file else (REPO_ROOT / settings.slo if settings.slo else None)
        thresholds = slo.load_thresholds(env.name, override)
    except (KnobInvalid, slo.SloInvalid) as exc:
        raise LoadTestError(str(exc)) from None
    spec = LoadSpec(
        host=env.entry_url,
        env=env.name,
        users=users,
        spawn_rate=_number(
            spawn_rate if spawn_rate is not None else (settings.spawn_rate or max(1.0, users / 2)),
            "--spawn-rate",
            float,
        ),
        duration=_number(duration if duration is not None else settings.duration, "--duration", float),
        workers=_number(workers if workers is not None else settings.workers, "--workers", int),
        thresholds=thresholds,
        max_requests=settings.max_requests,
        admin_key=admin,
        knobs=knobs,
        ca_file=ca_file,
    )
    spec.check()
    return spec


def ensure_running(env: Environment) -> None:
    """LoadTestError when the environment is not up: its entry point must answer /api/health."""
    if env.database == "embedded" and not local_env.is_up(env):
        raise LoadTestError(f"the {env.name} environment is not running (fab release --env {env.name} brings it up)")
    try:
        runner.reachable(env.entry_url, verify=env.tls_verify)
    except LoadTestError as exc:
        raise LoadTestError(f"the {env.name} environment is not running or not healthy: {exc}") from None


def resolve_admin_key(env: Environment, state: StateLayout, db_url: str | None = None) -> str:
    """As the release does (foundation.admin_client.admin_key): GOLIVE_ADMIN_API_KEY, else the tooling's key kept
    for an environment with generated secrets (made in its database on first use)."""
    kept = state.admin_key(env.name).exists()
    if db_url is None and not os.environ.get("GOLIVE_ADMIN_API_KEY") and env.secrets.source == "generated" and not kept:
        if env.database == "embedded":
            db_url = local_env.database_url(local_env.LocalPaths(env.root))
        else:
            db_url = os.environ.get("GOLIVE_DATABASE_URL")
        if not db_url:
            raise LoadTestError(f"no admin key for {env.name}: set GOLIVE_ADMIN_API_KEY or GOLIVE_DATABASE_URL")
    try:
        return admin_key(env, db_url or "", state)
    except AdminKeyMissing as exc:
        raise LoadTestError(str(exc)) from None


def run(spec: LoadSpec, state: StateLayout, reporter: Reporter) -> LoadResult:
    result = runner.run(spec, runner.run_folder(state, spec.env), progress=reporter.line)
    for line in result.summary_lines():
        reporter.line(line)
    return result


def gate(env: Environment, db_url: str, state: StateLayout, record: dict[str, Any], reporter: Reporter) -> None:
    """The release's load-test gate: the figures and the verdict go into `record` (the audit record);
    LoadTestFailed when it did not pass (the release rolls back as for a failed gate)."""
    try:
        ensure_running(env)
        spec = spec_for(env, admin=resolve_admin_key(env, state, db_url))
        result = run(spec, state, reporter)
    except LoadTestError as exc:
        record["loadtest"] = {"passed": False, "error": str(exc)}
        raise LoadTestFailed(f"the load test could not run: {exc}") from None
    record["loadtest"] = result.audit()
    if not result.passed:
        failed = [name for name, check in record["loadtest"]["checks"].items() if not check["passed"]]
        raise LoadTestFailed(f"the load test missed its SLO: {', '.join(failed) or 'no verdict'}")
