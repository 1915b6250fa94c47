"""The way to an environment's private database, as data: which host SSH logs in to and where the database listens
as that host sees it (a Route), the `ssh -N -L` that forwards a loopback port there, and how a client then connects
(libpq's PG* variables, a psql line). Pure: release/tunnel.py runs the command, `fab db.tunnel` and the release use it.

- `database: tunnel` (the lab): PostgreSQL on the db host answers only the web hosts, so SSH goes to the db host and
  forwards to its own 127.0.0.1.
- `database: url` (staging, production: RDS, reachable only inside the VPC): SSH goes to the first web host (the
  database's security group admits the app servers) and forwards to the endpoint the stack outputs name
  (`database.host`, `database.port`).
The password is never part of any of it: only a child process's PGPASSWORD carries it (release/tunnel.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from foundation.environment import Environment
from foundation.ssh_access import SshAccess

DATABASE = "golive"  # roles/postgresql: postgresql_app_database (when the outputs name none)
USER = "golive"  # roles/postgresql: postgresql_app_user
PASSWORD_KEY = "vault_postgresql_app_password"  # noqa: S105 (the key's name in the vault, not a password)
REMOTE_PORT = 5432
LOOPBACK = "127.0.0.1"
# ssh says this (LogLevel DEBUG1) as its client loop starts: after ssh_init_forwarding has bound and listened on every
# -L port (an -L that cannot is fatal first, with ExitOnForwardFailure). Not "Local forwarding listening on …": ssh
# says that before bind(). So the tunnel is known open without connecting to it (a probe would reach the database).
LISTENING = "Entering interactive session"


class TunnelFailed(Exception):
    """No tunnel: the message names the environment or host and what to do."""


@dataclass(frozen=True)
class Route:
    env: str
    via: str  # the host ssh logs in to (as the release names it: the ssh_config's alias or the instance id)
    host: str  # where PostgreSQL listens, as `via` sees it
    port: int
    database: str
    user: str
    sslmode: str  # what the client asks for through the tunnel
    # verify-full through the tunnel: the name the server's certificate is checked against (the client connects to
    # the forwarded loopback port as hostaddr) and the CA bundle that checks it
    verify_host: str | None = None
    ca_file: str | None = None


def route(env: Environment) -> Route:
    db = env.outputs.get("database") or {}
    if env.database == "tunnel":
        if env.ssh_config is not None and not env.ssh_config.exists():
            raise TunnelFailed(
                f"environment {env.name}: no ssh_config at {env.ssh_config} (is the lab up? `fab lab.up`)"
            )
        db_hosts = env.hosts.get("db", ())
        if len(db_hosts) != 1:
            raise TunnelFailed(
                f"environment {env.name}: a database tunnel needs exactly one db host, not {list(db_hosts)}"
            )
        # the environment's own CA (the lab's issues the db host's certificate too), when it has one
        ca = env.tls_verify if isinstance(env.tls_verify, str) else None
        return Route(
            env.name,
            via=db_hosts[0],
            host=LOOPBACK,  # the db host's own loopback
            port=int(db.get("port") or REMOTE_PORT),
            database=str(db.get("name") or DATABASE),
            user=str(db.get("user") or USER),
            sslmode="verify-full" if ca else "require",
            verify_host=env.address(db_hosts[0]) if ca else None,  # its certificate names its address
            ca_file=ca,
        )
    if env.database != "url":
        raise TunnelFailed(f"environment {env.name}: its database ({env.database}) is on this machine: no tunnel")
    if not env.outputs:
        raise TunnelFailed(
            f"environment {env.name}: no stack outputs, so no database endpoint to tunnel to (its description names "
            "no stack_outputs; set GOLIVE_DATABASE_URL to a database this machine reaches)"
        )
    if not db.get("host") or not db.get("port"):
        raise TunnelFailed(
            f"environment {env.name}: its stack outputs name no database endpoint (database.host and database.port); "
            f"write them again with `fab infra.outputs --env {env.name}`"
        )
    if not env.web_hosts:
        raise TunnelFailed(f"environment {env.name}: no web host in its stack outputs to reach the database through")
    return Route(
        env.name,
        via=env.web_hosts[0],
        host=str(db["host"]),
        port=int(db["port"]),
        database=str(db.get("name") or DATABASE),
        user=str(db.get("user") or USER),
        sslmode=str(db.get("sslmode") or "require"),
    )


def ssh_command(access: SshAccess, to: Route, local_port: int) -> list[str]:
    """`ssh -N -L 127.0.0.1:<local_port>:<host>:<port> <via>`, reached as the release reaches `via`."""
    return [
        "ssh",
        *access.openssh_options(to.via),
        "-N",
        "-o",
        "ControlMaster=no",  # its own connection, never a shared master's: stopping this PID closes the forward
        "-o",
        "ControlPath=none",
        "-o",
        "ExitOnForwardFailure=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "ServerAliveInterval=5",
        "-o",
        "LogLevel=DEBUG1",  # for LISTENING; release/tunnel.py keeps only ssh's other lines
        "-L",
        f"{LOOPBACK}:{local_port}:{to.host}:{to.port}",
        to.via,
    ]


def libpq_environment(to: Route, local_port: int) -> dict[str, str]:
    """What a client needs through the tunnel, as libpq reads it (no password: see release/tunnel.py)."""
    settings = {
        "PGHOST": to.verify_host or LOOPBACK,
        "PGPORT": str(local_port),
        "PGDATABASE": to.database,
        "PGUSER": to.user,
        "PGSSLMODE": to.sslmode,
    }
    if to.verify_host:
        settings |= {"PGHOSTADDR": LOOPBACK, "PGSSLROOTCERT": str(to.ca_file)}
    return settings


_LIBPQ_NAMES = {
    "PGHOST": "host",
    "PGHOSTADDR": "hostaddr",
    "PGPORT": "port",
    "PGDATABASE": "dbname",
    "PGUSER": "user",
    "PGSSLMODE": "sslmode",
    "PGSSLROOTCERT": "sslrootcert",
}


def psql_line(settings: dict[str, str]) -> str:
    words = (f"{_LIBPQ_NAMES[key]}={value}" for key, value in settings.items() if key in _LIBPQ_NAMES)
    return 'psql "' + " ".join(words) + '"'


def url(to: Route, local_port: int, password: str | None = None) -> str:
    secret = f":{quote(password, safe='')}" if password else ""
    query = f"sslmode={to.sslmode}"
    if to.verify_host:
        query = f"hostaddr={LOOPBACK}&{query}&sslrootcert={quote(str(to.ca_file), safe='/')}"
    return f"postgresql://{to.user}{secret}@{to.verify_host or LOOPBACK}:{local_port}/{to.database}?{query}"


def password_hint(env: Environment) -> str:
    """Where the password is, for a person (never the password)."""
    if env.database == "tunnel":
        return (
            f"the password is {PASSWORD_KEY} in the environment's vault (`ansible-vault view` of its secrets.yml): "
            f"put it in ~/.pgpass, or let `fab db.tunnel --env {env.name} --command psql` pass it to psql"
        )
    return (
        "the password: ~/.pgpass (127.0.0.1:<port>:<database>:<user>:<password>) or psql's prompt; "
        f"with GOLIVE_DATABASE_URL set, `fab db.tunnel --env {env.name} --command psql` passes its password to psql"
    )
