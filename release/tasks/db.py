"""fab db.tunnel — the way from this machine to an environment's private database (release/operations/db_tunnel.py)."""

from __future__ import annotations

from invoke import Collection, task

from release.exit_codes import Refused
from release.operations import db_tunnel
from release.tasks.context import controller, exits


@task(
    help={
        "env": "target environment: lab, staging, production (local: its database needs no tunnel)",
        "port": f"the local port to listen on, 127.0.0.1 only (default {db_tunnel.DEFAULT_PORT}; with --command a "
        "free one)",
        "command": "run this shell command with PGHOST, PGPORT, PGDATABASE, PGUSER (and the password in PGPASSWORD, "
        "in its environment only), then close the tunnel; its exit code is this task's",
    }
)
@exits
def tunnel(c, env=None, port=None, command=None) -> int:
    """Open an SSH tunnel to the environment's database: 127.0.0.1:PORT forwarded through its access path (SSH as the
    stack outputs' access.user, through access.ssh_proxy_command, host keys checked — as the release reaches hosts)
    to the database endpoint (the lab: the db host's own PostgreSQL; staging/production: the RDS endpoint, through
    the first web host). Prints how to connect (never the password) and holds the tunnel until Ctrl-C or SIGTERM.

    fab db.tunnel --env staging --command 'psql -c "select 1"' runs one command through it instead.
    Exit codes: 0 closed by you, 1 ssh ended by itself, 2 no tunnel (refused: the reason is named); with --command,
    the command's own.
    """
    if port is not None and not str(port).isdigit():
        raise Refused(f"--port is a port number, not {port!r}")
    return db_tunnel.tunnel(controller(env), int(port) if port else None, command)


collection = Collection("db", tunnel)
