"""The PostgreSQL client programs (pg_dump, pg_restore, psql) and how to hand them a connection.

Where the programs are, in order: the folder in GOLIVE_PG_BIN when it is set (and nowhere else then),
the PostgreSQL bundled with pgserver when that package is installed, the newest
/usr/lib/postgresql/<major>/bin, and finally PATH.

The tools get the connection as a keyword/value string without the password; a password travels in a
temporary passfile (mode 0600, PGPASSFILE), never on a command line where `ps` would show it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

ENV_VAR = "GOLIVE_PG_BIN"
SYSTEM_ROOT = Path("/usr/lib/postgresql")


class ToolMissing(Exception):
    """A PostgreSQL client program could not be found."""


def _pgserver_bin() -> Path | None:
    try:
        spec = importlib.util.find_spec("pgserver")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _system_bins() -> list[Path]:
    """/usr/lib/postgresql/<major>/bin, newest major first."""
    root = SYSTEM_ROOT
    if not root.is_dir():
        return []
    majors = [entry for entry in root.iterdir() if entry.name.isdigit() and (entry / "bin").is_dir()]
    return [entry / "bin" for entry in sorted(majors, key=lambda entry: int(entry.name), reverse=True)]


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_tool(name: str) -> Path:
    """The path of a PostgreSQL client program (pg_dump, pg_restore, psql, ...)."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        candidate = Path(configured) / name
        if _executable(candidate):
            return candidate
        raise ToolMissing(f"{name} not found in {configured} ({ENV_VAR})")
    looked: list[str] = []
    bundled = _pgserver_bin()
    candidates = ([bundled] if bundled is not None else []) + _system_bins()
    for folder in candidates:
        looked.append(str(folder))
        if _executable(folder / name):
            return folder / name
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    looked.append("PATH")
    raise ToolMissing(
        f"{name} not found (looked in {', '.join(looked)}); install the PostgreSQL client programs "
        f"or set {ENV_VAR} to their folder"
    )


def tool_major(name: str) -> int:
    """The major version of a client program, from `<tool> --version`."""
    tool = find_tool(name)
    result = subprocess.run([str(tool), "--version"], capture_output=True, text=True, check=False, timeout=30)
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", result.stdout)
    if result.returncode != 0 or match is None:
        raise ToolMissing(f"{tool} --version gave no version: {(result.stdout + result.stderr).strip()[:200]}")
    return int(match.group(1))


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
    """Splits a PostgreSQL URL (or conninfo string) into what the tools get on the command line and the password."""
    params = {key: str(value) for key, value in conninfo_to_dict(url).items()}
    password = params.pop("password", None) or None
    dbname = params.get("dbname") or params.get("user") or os.environ.get("PGDATABASE") or "postgres"
    params["dbname"] = dbname
    return Target(make_conninfo("", **params), password, dbname)


def _passfile_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


@contextmanager
def tool_env(db: Target) -> Iterator[dict[str, str]]:
    """The environment for a client program: PGPASSFILE names a 0600 temp file holding the password, removed
    afterwards. Without a password the inherited environment is used as it is."""
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
