"""What every task needs: the environment, its database, an engine — and a clean exit code on refusal."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import wraps
from typing import Any

from invoke.exceptions import Exit

from foundation.environment import Environment, EnvironmentInvalid, load_environment
from foundation.reporter import Reporter
from release import local_env, tunnel
from release.engine import Engine, Outcome


def environment(name: str | None) -> Environment:
    if not name:
        raise Exit("--env is required (local, lab, staging, production)", code=int(Outcome.REFUSED))
    try:
        return load_environment(name)
    except EnvironmentInvalid as exc:
        raise Exit(str(exc), code=int(Outcome.REFUSED)) from None


def database_url(env: Environment, reporter: Reporter) -> str:
    """local: the embedded database (the environment is brought up when down); tunnel: an SSH tunnel to the db
    host (release/tunnel.py); elsewhere GOLIVE_DATABASE_URL."""
    if env.database == "embedded":
        if not local_env.is_up(env):
            reporter.title(f"bringing the {env.name} environment up")
        return local_env.up(env, progress=reporter.line)
    if env.database == "tunnel":
        try:
            return tunnel.database_url(env)
        except tunnel.TunnelFailed as exc:
            raise Exit(f"the {env.name} database is unreachable: {exc}", code=int(Outcome.REFUSED)) from None
    url = os.environ.get("GOLIVE_DATABASE_URL")
    if not url:
        raise Exit(
            f"GOLIVE_DATABASE_URL is not set: the {env.name} database (through a tunnel if private) "
            "is needed for the release lock and backups",
            code=int(Outcome.REFUSED),
        )
    return url


def engine_for(name: str | None) -> Engine:
    env = environment(name)
    reporter = Reporter()
    return Engine(env, database_url(env, reporter), reporter=reporter)


def exits(task: Callable[..., Any]) -> Callable[..., Any]:
    """Turns an Outcome into the process's exit code (0 released, 1 rolled back, 2 refused, 3 held)."""

    @wraps(task)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        outcome = task(*args, **kwargs)
        if outcome is not None and int(outcome) != 0:
            raise Exit(code=int(outcome))

    return wrapper
