"""How this process and the client programs reach a database: a URL (or conninfo) split into what goes on a
command line and the password, which travels in a 0600 temporary passfile (PGPASSFILE), never on a command line;
psycopg connections; the server's and pg_dump's major versions."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from .errors import BackupFailed
from .tools import first_line, tool_major


@dataclass(frozen=True)
class Target:
    """A database as the client programs get it: a conninfo string without the password, and the password."""

    conninfo: str
    password: str | None
    dbname: str

    @property
    def description(self) -> str:
        """Where the database is, safe to print (no password)."""
        params = conninfo_to_dict(self.conninfo)
        host = params.get("host") or "localhost"
        port = f":{params['port']}" if params.get("port") else ""
        return f"database {self.dbname!r} on {host}{port}"

    def with_dbname(self, dbname: str) -> Target:
        return Target(make_conninfo(self.conninfo, dbname=dbname), self.password, dbname)

    @property
    def full_conninfo(self) -> str:
        """For psycopg in this process (the password never leaves it)."""
        if self.password is None:
            return self.conninfo
        return make_conninfo(self.conninfo, password=self.password)


def target(url: str) -> Target:
    """A PostgreSQL URL (or conninfo string) split into what the tools get on the command line and the password."""
    params = {key: str(value) for key, value in conninfo_to_dict(url).items()}
    password = params.pop("password", None) or None
    dbname = params.get("dbname") or params.get("user") or os.environ.get("PGDATABASE") or "postgres"
    params["dbname"] = dbname
    return Target(make_conninfo("", **params), password, dbname)


def _passfile_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


@contextmanager
def tool_env(db: Target) -> Iterator[dict[str, str]]:
    """The environment for a client program: PGPASSFILE names a 0600 temporary file holding the password,
    removed afterwards. Without a password the inherited environment is used as it is."""
    env = dict(os.environ)
    if db.password is None:
        yield env
        return
    fd, name = tempfile.mkstemp(prefix="golive-pgpass-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"*:*:*:*:{_passfile_escape(db.password)}\n")
        env["PGPASSFILE"] = name
        env.pop("PGPASSWORD", None)
        yield env
    finally:
        Path(name).unlink(missing_ok=True)


def connect(db: Target, **kwargs: Any) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(db.full_conninfo, connect_timeout=15, **kwargs)
    except psycopg.Error as exc:
        raise BackupFailed(f"cannot connect to {db.description}: {first_line(str(exc))}") from exc


def server_major(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SHOW server_version_num").fetchone()
    assert row is not None
    return int(row[0]) // 10000


def tool_versions(url: str) -> tuple[int, int]:
    """(pg_dump's major version, the server's major version)."""
    client = tool_major("pg_dump")
    with connect(target(url), autocommit=True) as conn:
        return client, server_major(conn)
