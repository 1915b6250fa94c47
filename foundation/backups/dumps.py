#!/usr/bin/python3
"""Backups proven by a restore: the one implementation, for the controller and for the database host.

The controller imports this module (release/, checks/); roles/backups copies this very file to the db host as
the `golive-backup` program, which reads its settings from /etc/golive-backup.json (`main` below). So it
imports nothing but the standard library and psycopg 3: the controller's venv, or Debian 12's python3 (3.11)
with python3-psycopg (3.1).

take     `pg_dump -Fc` inside an exported REPEATABLE READ snapshot, every table's rows counted in that same
         snapshot, so the counts are exactly what the dump holds. <id>.dump, then its manifest <id>.json (sha256,
         size, row counts, ...), each renamed into place whole, 0600: a backup is one whose manifest exists.
         `keep=N` leaves only the newest N afterwards.
prove    the sha256 checked, then a restore into a scratch database on the same server, every table's row count
         compared with the backup's by the same rule (_TABLES); the scratch database is dropped in every case.
         Two proofs that would use the same scratch database (the weekly timer's and a release's) take turns.
restore  into a new database: refused when it exists, row counts compared, dropped again on any failure.
         Over the live database: see below.
list_backups / find / write_metric   the backups of a folder, newest first; node_exporter's textfile metric.

Over the live database a restore is one transaction wherever it runs: the dumped schemas are cleared and
`pg_restore --single-transaction` is written as SQL into `psql`, which stops at the first error; nothing
commits unless pg_restore read the whole dump. The database is either the backup or untouched; objects made
after the backup (a newer migration's tables, views, types, functions) go, and the excluded schemas (the
release's own state) stay as they are. Restoring beside the live database and swapping the two by renaming (the
db host's way before) was dropped: the swap would also replace what a dump leaves out — the release lock's
schema, so a release rolling back would lose its lease mid-restore and another could take it — and what belongs
to the database rather than its contents (ALTER DATABASE ... SET, grants on it); it needs rights a managed
server's role lacks (renaming a database, ending other sessions) and it ends every session. What the swap kept
for a person, the data being replaced, is kept here too: the live database is dumped first (a backup like any
other, named `replaced` in the answer), so payments written since the backup can still be reconciled;
`keep_replaced=False` skips that when the live database cannot be dumped. Row counts are not compared after
that commit (the service may write again at once): the backup's were compared when it was proven, and its
sha256 is checked before restoring.

Where the client programs are, in order: the folder in GOLIVE_PG_BIN when set (and nowhere else then), the
PostgreSQL bundled with pgserver when installed, the newest /usr/lib/postgresql/<major>/bin, then PATH. They
get the connection without its password; a password travels in a 0600 temporary passfile (PGPASSFILE), never
on a command line.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

__all__ = [
    "Backup",
    "BackupFailed",
    "BackupNotFound",
    "BackupUnusable",
    "RestoreFailed",
    "ToolMissing",
    "find",
    "list_backups",
    "main",
    "prove",
    "restore",
    "take",
    "tool_versions",
    "write_metric",
]

MANIFEST_FORMAT = 1
DEFAULT_EXCLUDED = ("golive_release",)
CHUNK = 1024 * 1024
PG_BIN_VARIABLE = "GOLIVE_PG_BIN"
SYSTEM_ROOT = Path("/usr/lib/postgresql")
_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}\Z")


class BackupUnusable(Exception):
    """The backup cannot be trusted to restore: the message names the problem."""


class BackupFailed(BackupUnusable):
    """No backup could be taken (nothing is left behind)."""


class RestoreFailed(BackupUnusable):
    """A restore was refused or failed; the target was left as it was."""


class BackupNotFound(Exception):
    """No backup by that id (or not an id at all)."""


class ToolMissing(Exception):
    """A PostgreSQL client program could not be found."""


# --- the client programs ----------------------------------------------------------------------------------


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
    if not SYSTEM_ROOT.is_dir():
        return []
    majors = [entry for entry in SYSTEM_ROOT.iterdir() if entry.name.isdigit() and (entry / "bin").is_dir()]
    return [entry / "bin" for entry in sorted(majors, key=lambda entry: int(entry.name), reverse=True)]


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_tool(name: str) -> Path:
    """The path of a PostgreSQL client program (pg_dump, pg_restore, psql)."""
    configured = os.environ.get(PG_BIN_VARIABLE)
    if configured:
        candidate = Path(configured) / name
        if _executable(candidate):
            return candidate
        raise ToolMissing(f"{name} not found in {configured} ({PG_BIN_VARIABLE})")
    bundled = _pgserver_bin()
    folders = ([bundled] if bundled is not None else []) + _system_bins()
    for folder in folders:
        if _executable(folder / name):
            return folder / name
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    looked = ", ".join([*(str(folder) for folder in folders), "PATH"])
    raise ToolMissing(
        f"{name} not found (looked in {looked}); install the PostgreSQL client programs "
        f"or set {PG_BIN_VARIABLE} to their folder"
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


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _first_error(stderr: str) -> str:
    """The first error line of pg_dump/pg_restore/psql output, without the program's prefix."""
    for line in stderr.splitlines():
        match = re.search(r"(?:\berror:|\bERROR:|\bFATAL:)\s*(.*)", line)
        if match:
            return match.group(1).strip()
    return _first_line(stderr) or "no error output"


# --- the server -------------------------------------------------------------------------------------------


def _connect(db: Target, **kwargs: Any) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(db.full_conninfo, connect_timeout=15, **kwargs)
    except psycopg.Error as exc:
        raise BackupFailed(f"cannot connect to {db.description}: {_first_line(str(exc))}") from exc


def _server_major(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SHOW server_version_num").fetchone()
    assert row is not None
    return int(row[0]) // 10000


def tool_versions(url: str) -> tuple[int, int]:
    """(pg_dump's major version, the server's major version)."""
    client = tool_major("pg_dump")
    with _connect(target(url), autocommit=True) as conn:
        return client, _server_major(conn)


# The counting rule, for the dump and for every restore: ordinary tables (a partitioned table's rows are
# counted once, in its partitions) outside the system schemas, the excluded ones and extensions.
_TABLES = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  AND n.nspname <> ALL (%s)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""
_PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_$]*\Z")


def _name(identifier: str) -> str:
    return identifier if _PLAIN_NAME.match(identifier) else '"' + identifier.replace('"', '""') + '"'


def table_key(schema: str, table: str) -> str:
    """A table's key in the row counts: `payments`, `reports.daily`, `"Odd.Name"` (quoted only when needed)."""
    return _name(table) if schema == "public" else f"{_name(schema)}.{_name(table)}"


def count_rows(conn: psycopg.Connection[Any], excluded: tuple[str, ...]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for schema, table in conn.execute(_TABLES, [list(excluded)]).fetchall():
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        row = conn.execute(query).fetchone()
        assert row is not None
        counts[table_key(schema, table)] = int(row[0])
    return counts


# --- a backup ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backup:
    id: str
    path: Path
    sha256: str
    size: int
    created_at: datetime
    database: str
    server_major: int
    client_major: int
    row_counts: dict[str, int]
    # The schemas the dump leaves out; a restore leaves them alone as well.
    excluded_schemas: tuple[str, ...] = field(default=DEFAULT_EXCLUDED)

    def manifest(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "id": self.id,
            "file": self.path.name,
            "sha256": self.sha256,
            "size": self.size,
            "created_at": self.created_at.isoformat(),
            "database": self.database,
            "server_major": self.server_major,
            "client_major": self.client_major,
            "row_counts": self.row_counts,
            "excluded_schemas": list(self.excluded_schemas),
        }

    def summary(self) -> dict[str, Any]:
        """What a taker answers (golive-backup's JSON line) and a release records: no table names."""
        return {
            "id": self.id,
            "sha256": self.sha256,
            "size": self.size,
            "tables": len(self.row_counts),
            "rows": sum(self.row_counts.values()),
            "created_at": self.created_at.isoformat(),
        }


def _sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _write_private(path: Path, text: str) -> None:
    """Written whole (a temporary file renamed into place), 0600."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _new_id(now: datetime) -> str:
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def _schema_pattern(name: str) -> str:
    """A pg_dump pattern matching exactly this schema name."""
    return '"' + name.replace('"', '""') + '"'


# --- take -------------------------------------------------------------------------------------------------


def _dump(db: Target, snapshot: str, excluded: tuple[str, ...], into: Path) -> None:
    """pg_dump -Fc of the exported snapshot into `into`."""
    command = [
        str(find_tool("pg_dump")),
        "--format=custom",
        "--no-password",
        f"--snapshot={snapshot}",
        f"--file={into}",
        *(f"--exclude-schema={_schema_pattern(name)}" for name in excluded),
        f"--dbname={db.conninfo}",
    ]
    with tool_env(db) as env:
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise BackupFailed(f"pg_dump of {db.description} failed: {_first_error(result.stderr)}")


def take(
    url: str, dest_dir: Path, *, exclude_schemas: tuple[str, ...] = DEFAULT_EXCLUDED, keep: int | None = None
) -> Backup:
    """Dumps the database into dest_dir/<id>.dump with its <id>.json manifest beside it; with `keep`, only the
    newest `keep` backups of dest_dir remain afterwards."""
    if keep is not None and keep < 1:
        raise ValueError(f"keep must be at least 1, not {keep}")
    db = target(url)
    client_major = tool_major("pg_dump")
    dest_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    created_at = datetime.now(UTC)
    backup_id = _new_id(created_at)
    final = dest_dir / f"{backup_id}.dump"
    partial = dest_dir / f".{backup_id}.dump.partial"
    try:
        with _connect(db) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            server_major = _server_major(conn)
            row = conn.execute("SELECT pg_export_snapshot()").fetchone()
            assert row is not None
            snapshot = str(row[0])
            row_counts = count_rows(conn, exclude_schemas)
            # The exporting transaction stays open until pg_dump has imported the snapshot (and finished).
            _dump(db, snapshot, exclude_schemas, partial)
            conn.rollback()
        partial.chmod(0o600)
        os.replace(partial, final)
    except psycopg.Error as exc:
        raise BackupFailed(f"backup of {db.description} failed: {_first_line(str(exc))}") from exc
    finally:
        partial.unlink(missing_ok=True)
    backup = Backup(
        id=backup_id,
        path=final,
        sha256=_sha256_of(final),
        size=final.stat().st_size,
        created_at=created_at,
        database=db.dbname,
        server_major=server_major,
        client_major=client_major,
        row_counts=row_counts,
        excluded_schemas=tuple(exclude_schemas),
    )
    try:
        _write_private(dest_dir / f"{backup_id}.json", json.dumps(backup.manifest(), indent=2, sort_keys=True) + "\n")
    except BaseException:
        final.unlink(missing_ok=True)
        raise
    if keep is not None:
        for old in list_backups(dest_dir)[keep:]:
            (dest_dir / f"{old.id}.json").unlink(missing_ok=True)  # the manifest first: no backup without a file
            old.path.unlink(missing_ok=True)
    return backup


# --- restoring --------------------------------------------------------------------------------------------


def _check_file(backup: Backup) -> None:
    if not backup.path.is_file():
        raise BackupUnusable(f"backup {backup.id}: file {backup.path} is missing")
    actual = _sha256_of(backup.path)
    if actual != backup.sha256:
        raise BackupUnusable(
            f"backup {backup.id}: checksum mismatch (file {actual[:16]}…, manifest {backup.sha256[:16]}…)"
        )


def _literal(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL in an SQL literal")
    return "'" + value.replace("'", "''") + "'"


def _clear_sql(excluded: tuple[str, ...]) -> str:
    """Drops everything in the schemas a dump covers (all but the excluded and system ones): other schemas
    whole, the public schema's contents (the schema itself stays, with its owner and privileges)."""
    array = "ARRAY[" + ", ".join(_literal(name) for name in excluded) + "]::text[]"
    not_member = (
        "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{catalog}'::regclass"
        " AND d.objid = {alias}.oid AND d.deptype = 'e')"
    )
    return f"""
DO $golive_clear$
DECLARE
    excluded text[] := {array};
    statements text[];
    statement text;
BEGIN
    SELECT coalesce(array_agg(stmt ORDER BY ord, name), '{{}}') INTO statements FROM (
        SELECT 1 AS ord, n.nspname::text AS name, format('DROP SCHEMA IF EXISTS %I CASCADE', n.nspname) AS stmt
        FROM pg_namespace n
        WHERE n.nspname <> 'public' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
          AND n.nspname <> ALL (excluded) AND {not_member.format(catalog="pg_namespace", alias="n")}
        UNION ALL
        SELECT 2, e.extname::text, format('DROP EXTENSION IF EXISTS %I CASCADE', e.extname)
        FROM pg_extension e WHERE e.extnamespace = 'public'::regnamespace
        UNION ALL
        SELECT 3, c.relname::text, format('DROP %s IF EXISTS public.%I CASCADE',
            CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                           WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, c.relname)
        FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          AND {not_member.format(catalog="pg_class", alias="c")}
        UNION ALL
        SELECT 4, p.proname::text, format('DROP ROUTINE IF EXISTS public.%I(%s) CASCADE', p.proname,
                                          pg_get_function_identity_arguments(p.oid))
        FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND {not_member.format(catalog="pg_proc", alias="p")}
        UNION ALL
        SELECT 5, t.typname::text, format('DROP %s IF EXISTS public.%I CASCADE',
                                          CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.typname)
        FROM pg_type t
        WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'd', 'r', 'c')
          AND (t.typtype <> 'c' OR EXISTS (SELECT 1 FROM pg_class r WHERE r.oid = t.typrelid AND r.relkind = 'c'))
          AND {not_member.format(catalog="pg_type", alias="t")}
    ) AS drops;
    FOREACH statement IN ARRAY statements LOOP
        EXECUTE statement;
    END LOOP;
END
$golive_clear$;
"""


def _pump(source: IO[bytes], sink: IO[bytes]) -> bool:
    """Copies until source ends; False when the reader (psql) went away first."""
    try:
        while chunk := source.read(CHUNK):
            sink.write(chunk)
    except BrokenPipeError:
        return False
    return True


def _run_restore(backup: Backup, db: Target, *, clear: bool) -> None:
    """pg_restore's SQL (--single-transaction: one BEGIN ... COMMIT, the COMMIT written only once every entry
    was read) through psql, which stops at the first error. The clearing runs inside that transaction: this
    module's BEGIN opens it, pg_restore's own BEGIN only warns, and nothing commits unless pg_restore finished."""
    pg_restore = find_tool("pg_restore")
    psql = find_tool("psql")
    preamble = "SET client_min_messages = warning;\nBEGIN;\n"
    if clear:
        preamble += _clear_sql(backup.excluded_schemas)
    restore_cmd = [str(pg_restore), "--exit-on-error", "--single-transaction", "--file=-", str(backup.path)]
    if clear:
        restore_cmd[1:1] = ["--clean", "--if-exists"]
    psql_cmd = [str(psql), "-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1", f"--dbname={db.conninfo}", "-f", "-"]
    with tempfile.TemporaryDirectory(prefix="golive-restore-") as tmp, tool_env(db) as env:
        restore_err_path = Path(tmp) / "pg_restore.err"
        psql_err_path = Path(tmp) / "psql.err"
        with restore_err_path.open("wb") as restore_err, psql_err_path.open("wb") as psql_err:
            reader = subprocess.Popen(restore_cmd, stdout=subprocess.PIPE, stderr=restore_err, env=env)
            writer = subprocess.Popen(
                psql_cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_err, env=env
            )
            assert reader.stdout is not None and writer.stdin is not None
            try:
                try:
                    writer.stdin.write(preamble.encode())
                    piped = _pump(reader.stdout, writer.stdin)
                except BrokenPipeError:
                    piped = False
                if not piped:  # psql stopped (an error, or no connection): pg_restore must not block on it
                    reader.kill()
                reader_rc = reader.wait()
                if not (piped and reader_rc == 0):
                    with suppress(BrokenPipeError):
                        # Unless pg_restore ended mid-COPY, where this is data; then the connection closing
                        # without a COMMIT rolls back.
                        writer.stdin.write(b"ROLLBACK;\n")
                with suppress(BrokenPipeError):
                    writer.stdin.close()
                writer_rc = writer.wait()
            finally:
                for proc in (reader, writer):
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
                reader.stdout.close()
        restore_stderr = restore_err_path.read_text(errors="replace")
        psql_stderr = psql_err_path.read_text(errors="replace")
    if piped and reader_rc != 0:
        raise RestoreFailed(f"pg_restore failed: {_first_error(restore_stderr)}")
    if writer_rc != 0 or not piped:
        raise RestoreFailed(f"pg_restore failed: {_first_error(psql_stderr)}")


def _create_database(admin: Target, name: str) -> None:
    with _connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))


def _drop_database(admin: Target, name: str) -> None:
    with _connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _database_exists(admin: Target, name: str) -> bool:
    with _connect(admin, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def scratch_name(backup_id: str) -> str:
    """The scratch database a proof of this backup restores into unless told another."""
    return ("golive_prove_" + re.sub(r"[^a-z0-9_]", "_", backup_id.lower()))[:63]


_SCRATCH_LOCK = 0x676F6C69  # "goli": the advisory lock class of scratch databases (with hashtext of the name)


@contextmanager
def _turn(admin: Target, scratch: str) -> Iterator[None]:
    """Holds a session advisory lock named after the scratch database while it is in use: two proofs that
    would restore into the same one (the weekly timer's and a release's) take turns, neither drops the other's."""
    with _connect(admin, autocommit=True) as conn:
        conn.execute(f"SELECT pg_advisory_lock({_SCRATCH_LOCK}, hashtext(%s))", [scratch])
        yield


def _compare_counts(backup: Backup, restored: dict[str, int]) -> list[str]:
    problems = []
    for key, expected in sorted(backup.row_counts.items()):
        if key not in restored:
            problems.append(f"table {key}: missing after restore")
        elif restored[key] != expected:
            problems.append(f"table {key}: {restored[key]} rows restored, {expected} expected")
    problems.extend(
        f"table {key}: restored but not in the backup" for key in sorted(set(restored) - set(backup.row_counts))
    )
    return problems


def _restore_new_database(backup: Backup, admin: Target, name: str) -> dict[str, int]:
    """Creates database `name`, restores into it and checks the row counts (RestoreFailed otherwise).
    The caller drops the database when this fails."""
    try:
        _create_database(admin, name)
    except psycopg.Error as exc:
        raise RestoreFailed(f"cannot create database {name!r}: {_first_line(str(exc))}") from exc
    db = admin.with_dbname(name)
    _run_restore(backup, db, clear=False)
    try:
        with _connect(db) as conn:
            restored = count_rows(conn, backup.excluded_schemas)
    except psycopg.Error as exc:
        raise RestoreFailed(f"cannot count the restored rows: {_first_line(str(exc))}") from exc
    problems = _compare_counts(backup, restored)
    if problems:
        raise RestoreFailed("; ".join(problems))
    return restored


def prove(backup: Backup, url: str, *, scratch: str | None = None) -> dict[str, int]:
    """Restores the backup into a scratch database on the server of `url` (`scratch`, else one named after the
    backup) and compares every table's row count with the backup's; the scratch database is dropped in every
    case. Returns the restored counts."""
    _check_file(backup)
    admin = target(url)
    name = scratch or scratch_name(backup.id)
    if name == admin.dbname:
        raise BackupUnusable(f"backup {backup.id}: the scratch database cannot be {name!r}, the database itself")
    with _turn(admin, name):
        _drop_database(admin, name)  # a crashed earlier proof may have left it
        try:
            restored = _restore_new_database(backup, admin, name)
        except RestoreFailed as exc:
            _drop_database(admin, name)
            raise BackupUnusable(f"backup {backup.id}: {exc}") from exc
        except BaseException:
            with suppress(Exception):
                _drop_database(admin, name)
            raise
        _drop_database(admin, name)
    return restored


def restore(backup: Backup, url: str, *, into: str | None = None, keep_replaced: bool = True) -> dict[str, Any]:
    """into=None: replaces the contents of the database at `url` with the backup, in one transaction, after
    dumping what it holds now into the backup's folder (unless keep_replaced=False).
    into=NAME: creates database NAME on the same server (refused when it exists) and restores there.
    Returns the answer: id, sha256, tables, rows (the backup's), into, replaced (the id of the kept dump)."""
    _check_file(backup)
    db = target(url)
    replaced = None
    if into is not None:
        if _database_exists(db, into):
            raise RestoreFailed(f"database {into!r} already exists; restore into a new name or drop it first")
        try:
            _restore_new_database(backup, db, into)
        except BaseException:
            with suppress(Exception):
                _drop_database(db, into)
            raise
    else:
        if keep_replaced:
            try:
                replaced = take(url, backup.path.parent, exclude_schemas=backup.excluded_schemas).id
            except (BackupUnusable, ToolMissing, OSError) as exc:
                raise RestoreFailed(
                    f"what {db.description} holds now could not be kept first ({exc}); restoring without keeping "
                    "it is a separate decision (keep_replaced=False, golive-backup restore --discard-replaced)"
                ) from exc
        _run_restore(backup, db, clear=True)
    return {**_counted(backup), "into": into, "replaced": replaced}


def _counted(backup: Backup) -> dict[str, Any]:
    return {
        "id": backup.id,
        "sha256": backup.sha256,
        "tables": len(backup.row_counts),
        "rows": sum(backup.row_counts.values()),
    }


# --- the backup folder ------------------------------------------------------------------------------------


def _from_manifest(path: Path) -> Backup:
    data = json.loads(path.read_text(encoding="utf-8"))
    backup_id, file = str(data["id"]), str(data["file"])
    if not _ID.match(backup_id) or file != f"{backup_id}.dump":
        raise ValueError(f"{path}: not a backup manifest (id {backup_id!r}, file {file!r})")
    return Backup(
        id=backup_id,
        path=path.parent / file,
        sha256=str(data["sha256"]),
        size=int(data["size"]),
        created_at=datetime.fromisoformat(str(data["created_at"])),
        database=str(data["database"]),
        server_major=int(data["server_major"]),
        client_major=int(data["client_major"]),
        row_counts={str(key): int(value) for key, value in data["row_counts"].items()},
        excluded_schemas=tuple(str(name) for name in data.get("excluded_schemas", DEFAULT_EXCLUDED)),
    )


def list_backups(dest_dir: Path) -> list[Backup]:
    """Every backup in dest_dir, newest first (files that are not backup manifests are ignored)."""
    if not dest_dir.is_dir():
        return []
    backups = []
    for path in dest_dir.glob("*.json"):
        try:
            backups.append(_from_manifest(path))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return sorted(backups, key=lambda backup: (backup.created_at, backup.id), reverse=True)


def find(dest_dir: Path, backup_id: str, *, sha256: str | None = None) -> Backup:
    """The backup `backup_id` of dest_dir; with `sha256`, refused unless it is the very one that was recorded."""
    if not _ID.match(backup_id):
        raise BackupNotFound(f"{backup_id!r} is not a backup id (like 20260101T023000Z-3fa2b1; list the backups)")
    backups = list_backups(dest_dir)
    found = next((backup for backup in backups if backup.id == backup_id), None)
    if found is None and not backups:
        raise BackupNotFound(f"no backup {backup_id!r}: there are no backups in {dest_dir}")
    if found is None:
        newest = ", ".join(backup.id for backup in backups[:5])
        raise BackupNotFound(f"no backup {backup_id!r} in {dest_dir}; the newest are: {newest}")
    if sha256 is not None and found.sha256 != sha256:
        raise BackupUnusable(
            f"backup {backup_id} is not the one recorded: its manifest says sha256 {found.sha256[:16]}…, "
            f"the record {sha256[:16]}…"
        )
    return found


METRIC = "golive_backup_last_success_timestamp_seconds"
METRIC_FILE = "golive_backup.prom"


def write_metric(dest_dir: Path, metrics_dir: Path, database: str) -> Backup | None:
    """Writes when the newest whole backup of dest_dir was taken into node_exporter's textfile collector folder
    (METRIC_FILE, 0644), through a temporary file renamed into place: node_exporter never reads half a file.
    Returns that backup; None (and nothing written) when there is none."""
    newest = next(
        (
            backup
            for backup in list_backups(dest_dir)
            if backup.path.is_file() and backup.path.stat().st_size == backup.size
        ),
        None,
    )
    if newest is None:
        return None
    text = (
        f"# HELP {METRIC} When the newest good pg_dump of {database} was taken (unix time).\n"
        f"# TYPE {METRIC} gauge\n"
        f"{METRIC} {newest.created_at.timestamp():.0f}\n"
    )
    draft = metrics_dir / f".{METRIC_FILE}.{os.getpid()}.tmp"  # node_exporter reads *.prom only
    try:
        draft.write_text(text, encoding="utf-8")
        draft.chmod(0o644)
        os.replace(draft, metrics_dir / METRIC_FILE)
    finally:
        draft.unlink(missing_ok=True)
    return newest


# --- golive-backup: the program on the database host ------------------------------------------------------

CONFIG = Path("/etc/golive-backup.json")  # written by roles/backups (tasks/program.yml)


class SettingsInvalid(Exception):
    pass


@dataclass(frozen=True)
class Settings:
    """/etc/golive-backup.json (roles/backups/templates/golive-backup.json.j2)."""

    database: str  # reached as libpq's defaults say: the local socket, as the user running the program (peer)
    folder: Path
    keep: int
    scratch_database: str
    metrics_folder: Path | None  # "" in the file: no metric

    @property
    def url(self) -> str:
        return make_conninfo("", dbname=self.database)


_SETTINGS = {"database": str, "folder": str, "keep": int, "scratch_database": str, "metrics_folder": str}


def read_settings(path: Path) -> Settings:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsInvalid(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise SettingsInvalid(f"{path} is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise SettingsInvalid(f"{path}: not a JSON object")
    problems = [f"unknown setting {key!r}" for key in sorted(set(raw) - set(_SETTINGS))]
    for key, kind in _SETTINGS.items():
        value = raw.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            problems.append(f"{key} must be a {kind.__name__}, not {value!r}")
    good = {key: raw[key] for key, kind in _SETTINGS.items() if isinstance(raw.get(key), kind)}
    if good.get("keep", 1) < 1:
        problems.append(f"keep must be at least 1, not {good['keep']}")
    names = (good.get("database"), good.get("scratch_database"))
    if None not in names and ("" in names or names[0] == names[1]):
        problems.append("database and scratch_database must be two names (the scratch one is dropped)")
    if good.get("folder") == "":
        problems.append("folder must be set")
    problems.extend(
        f"{key} must be an absolute path, not {good[key]!r}"
        for key in ("folder", "metrics_folder")
        if good.get(key) and not Path(good[key]).is_absolute()
    )
    if problems:
        raise SettingsInvalid(f"{path}: " + "; ".join(problems))
    return Settings(
        raw["database"],
        Path(raw["folder"]),
        raw["keep"],
        raw["scratch_database"],
        Path(raw["metrics_folder"]) if raw["metrics_folder"] else None,
    )


def _say(text: str) -> None:
    print(f"golive-backup: {text}", file=sys.stderr, flush=True)


def _answer(data: dict[str, Any]) -> None:
    """The one JSON line a command that a controller runs ends with (release/backups/on_host.py reads it)."""
    print(json.dumps(data, sort_keys=True), flush=True)


def _dump_command(settings: Settings, args: argparse.Namespace) -> int:
    taken = take(settings.url, settings.folder, keep=settings.keep)
    _say(f"{taken.path} ({taken.size} bytes, {len(taken.row_counts)} tables, {sum(taken.row_counts.values())} rows)")
    return 0


def _restore_test_command(settings: Settings, args: argparse.Namespace) -> int:
    found = list_backups(settings.folder)
    if not found:
        _say(f"no backup in {settings.folder}")
        return 1
    restored = prove(found[0], settings.url, scratch=settings.scratch_database)
    _say(f"{found[0].id} restores: {len(restored)} tables, {sum(restored.values())} rows, counts match")
    return 0


def _list_command(settings: Settings, args: argparse.Namespace) -> int:
    for backup in list_backups(settings.folder):
        print(backup.path)
    return 0


def _release_command(settings: Settings, args: argparse.Namespace) -> int:
    taken = take(settings.url, settings.folder, keep=settings.keep)
    prove(taken, settings.url, scratch=settings.scratch_database)
    _say(f"{taken.id} restores into {settings.scratch_database}: counts match")
    _answer(taken.summary())
    return 0


def _restore_command(settings: Settings, args: argparse.Namespace) -> int:
    found = find(settings.folder, args.id, sha256=args.sha256)
    answer = restore(found, settings.url, into=args.into, keep_replaced=not args.discard_replaced)
    _answer(answer)
    return 0


def _metric_command(settings: Settings, args: argparse.Namespace) -> int:
    if settings.metrics_folder is None:
        return 0
    if not settings.metrics_folder.is_dir():
        # The dump itself is good: say so, but do not fail the backup over its metric.
        _say(f"no textfile collector folder {settings.metrics_folder} (is node_exporter installed?)")
        return 0
    newest = write_metric(settings.folder, settings.metrics_folder, settings.database)
    _say(f"{settings.metrics_folder / METRIC_FILE}: {newest.id}" if newest else "no whole backup yet: no metric")
    return 0


def _settings_command(settings: Settings, args: argparse.Namespace) -> int:
    _answer(
        {
            "database": settings.database,
            "folder": str(settings.folder),
            "keep": settings.keep,
            "scratch_database": settings.scratch_database,
            "metrics_folder": str(settings.metrics_folder or ""),
        }
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="golive-backup",
        description="Backups of the golive database proven by a restore (run as postgres; metric as root). "
        "Exit 0 done, 1 failed (nothing changed), 2 refused (usage, settings, no such backup).",
    )
    parser.add_argument("--config", type=Path, default=CONFIG, help=f"the settings file (default {CONFIG})")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, run, text in (
        ("dump", _dump_command, "pg_dump -Fc with its row counts; keeps the newest `keep`"),
        ("restore-test", _restore_test_command, "prove the newest backup in the scratch database"),
        ("list", _list_command, "the backups' dump files, newest first"),
        ("release", _release_command, "dump, prove that very dump; answers one JSON line"),
        ("restore", _restore_command, "restore a backup over the live database (or --into a new one)"),
        ("metric", _metric_command, "node_exporter's textfile metric of the newest backup (as root)"),
        ("settings", _settings_command, "check the settings file; answers it as one JSON line"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.set_defaults(run=run)
        if name == "restore":
            command.add_argument("id", help="a backup id (the dump's file name without .dump)")
            command.add_argument("--into", help="a new database to restore into; the live one is left alone")
            command.add_argument("--sha256", help="refuse unless the backup's manifest has this sha256")
            command.add_argument(
                "--discard-replaced", action="store_true", help="do not dump the live database before replacing it"
            )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.umask(0o077)  # dumps hold every payment: their owner only
    try:
        settings = read_settings(args.config)
        return int(args.run(settings, args))
    except (SettingsInvalid, BackupNotFound) as exc:
        _say(str(exc))
        return 2
    except (BackupUnusable, ToolMissing) as exc:
        if args.command == "restore":
            _say(f"{args.id} not restored, the database is as it was: {exc}")
        else:
            _say(f"{args.command} failed: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
