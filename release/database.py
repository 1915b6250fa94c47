"""How the controller reaches an environment's database (`database:` in its description): `embedded` — the local
environment's own PostgreSQL, brought up when it is down; `tunnel` — an SSH tunnel to the db host, open while
the command runs (release/tunnel.py); `url` — GOLIVE_DATABASE_URL."""

from __future__ import annotations

import os

from foundation.environment import Environment
from foundation.reporter import Reporter
from release import local_env, tunnel

URL_VARIABLE = "GOLIVE_DATABASE_URL"


class DatabaseUnreachable(Exception):
    """The environment's database cannot be reached; the message says why and what to do."""


def database_url(env: Environment, reporter: Reporter) -> str:
    if env.database == "embedded":
        if not local_env.is_up(env):
            reporter.title(f"bringing the {env.name} environment up")
        return local_env.up(env, progress=reporter.line)
    if env.database == "tunnel":
        try:
            return tunnel.database_url(env)
        except tunnel.TunnelFailed as exc:
            raise DatabaseUnreachable(f"the {env.name} database is unreachable: {exc}") from None
    url = os.environ.get(URL_VARIABLE)
    if not url:
        raise DatabaseUnreachable(
            f"{URL_VARIABLE} is not set: the {env.name} database (through a tunnel if private) "
            "is needed for the release lock and backups"
        )
    return url
