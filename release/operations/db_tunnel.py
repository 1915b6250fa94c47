"""fab db.tunnel — the documented way from this machine to an environment's private database: a tunnel held open for
a person until Ctrl-C (or SIGTERM), or for one command that gets the connection in libpq's PG* variables.

`local` needs none: its embedded PostgreSQL is on this machine, so the command says so and opens nothing (it prints
how to connect, or runs --command against it). The password is never printed; only --command's child gets it.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

from foundation.environment import Environment
from foundation.reporter import Reporter
from release import local_env
from release.controller import Controller
from release.exit_codes import ExitCode, Refused
from release.tunnel import Tunnel, TunnelFailed, open_tunnel, password
from release.tunnel_commands import libpq_environment, password_hint, psql_line, route

DEFAULT_PORT = 15432  # a person's tunnel: one port to remember (--command takes a free one)


class _Stopped(Exception):
    """SIGTERM: close the tunnel as Ctrl-C does."""


def tunnel(target: Controller, port: int | None, command: str | None) -> int:
    env = target.env
    with _sigterm_stops():  # SIGTERM, like Ctrl-C, ends in the `finally` that stops ssh by its PID
        try:
            if env.database == "embedded":
                return _local(env, target.reporter, command)
            return _tunnel(env, target.reporter, port, command)
        except KeyboardInterrupt:  # before the tunnel was open (ssh, if started, is stopped)
            return 128 + signal.SIGINT
        except _Stopped:
            return 128 + signal.SIGTERM


def _tunnel(env: Environment, say: Reporter, port: int | None, command: str | None) -> int:
    try:
        to = route(env)
        secret = password(env) if command else None  # asked before anything opens; never printed
        say.title(f"db.tunnel {env.name}: 127.0.0.1 → {to.host}:{to.port} through {to.via}")
        opened = open_tunnel(env, port or (None if command else DEFAULT_PORT))
    except TunnelFailed as exc:
        raise Refused(f"db.tunnel --env {env.name}: {exc}") from None
    try:
        settings = libpq_environment(to, opened.port)
        say.line(f"tunnel open: 127.0.0.1:{opened.port} → {to.host}:{to.port} (ssh PID {opened.process.pid})")
        if command:
            return _run(command, settings, secret, say)
        _describe(env, settings, say)
        return _hold(opened, say)
    finally:
        opened.stop()


def _describe(env: Environment, settings: dict[str, str], say: Reporter) -> None:
    say.line(
        f"host {settings['PGHOST']}  port {settings['PGPORT']}  database {settings['PGDATABASE']}  "
        f"user {settings['PGUSER']}  sslmode {settings.get('PGSSLMODE', 'prefer')}"
    )
    say.line(f"connect: {psql_line(settings)}")
    say.line(password_hint(env))
    say.line("Ctrl-C closes the tunnel")


def _hold(opened: Tunnel, say: Reporter) -> int:
    """Until Ctrl-C or SIGTERM (exit 0), or until ssh ends by itself (exit 1, with what it said)."""
    try:
        code = opened.process.wait()
    except (KeyboardInterrupt, _Stopped):
        opened.stop()
        say.line(f"tunnel closed (ssh PID {opened.process.pid} stopped)")
        return ExitCode.OK
    say.error(f"ssh to {opened.route.via} exited {code}; the tunnel is closed: {opened.complaint()}")
    return ExitCode.FAILED


def _run(command: str, settings: dict[str, str], secret: str | None, say: Reporter) -> int:
    """One command (the operator's shell line) with the connection in PG*; its exit code is the task's."""
    child = {**os.environ, **settings}
    if secret:
        child["PGPASSWORD"] = secret
    say.line(f"running: {command}")
    try:
        return subprocess.run(command, shell=True, env=child, check=False).returncode  # noqa: S602 (the operator's own command line)
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except _Stopped:
        return 128 + signal.SIGTERM


@contextmanager
def _sigterm_stops() -> Iterator[None]:
    def stop(signum, frame):  # signal's signature
        raise _Stopped

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _local(env: Environment, say: Reporter, command: str | None) -> int:
    """The embedded PostgreSQL is on this machine: nothing to open."""
    paths = local_env.LocalPaths(env.root)
    if not (paths.pg / "postmaster.pid").exists():
        raise Refused(f"db.tunnel --env {env.name}: the local database is not running; `fab local.up` starts it")
    settings = _libpq_of(local_env.database_url(paths))
    say.title(f"db.tunnel {env.name}: no tunnel needed — the embedded PostgreSQL is on this machine")
    if command:
        return _run(command, settings, None, say)  # trust on its own socket: no password
    say.line(
        f"host {settings['PGHOST']} (a Unix socket)  port {settings['PGPORT']}  database {settings['PGDATABASE']}  "
        f"user {settings['PGUSER']}"
    )
    say.line(f"connect: {psql_line(settings)}")
    return ExitCode.OK


def _libpq_of(given: str) -> dict[str, str]:
    """PG* of the embedded server's URL (postgresql://user:@/db?host=/socket/dir), its password left out."""
    parts = urlsplit(given)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    return {
        "PGHOST": query.get("host") or parts.hostname or "127.0.0.1",
        "PGPORT": str(query.get("port") or parts.port or 5432),
        "PGDATABASE": parts.path.lstrip("/"),
        "PGUSER": parts.username or "postgres",
    }
