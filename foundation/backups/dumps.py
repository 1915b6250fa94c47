"""Backups that are proven to restore.

`take` dumps the database with `pg_dump -Fc` inside an exported REPEATABLE READ snapshot and counts every
table's rows in that same snapshot, so the counts describe exactly what the dump holds. `prove` restores the
dump into a scratch database on the same server and compares the counts; the scratch database is always
dropped. `restore` replaces the live database's contents in one transaction, or restores into a new database.

A restore is `pg_restore --single-transaction` writing the dump as SQL into `psql` (which stops at the first
error): one transaction, committed only when pg_restore read the whole dump. Over the live database that
transaction first clears the dumped schemas, so objects created after the backup (a newer migration's tables,
views, types, functions) go too and the schema is the backup's; the excluded schemas (the release's own
state) are left as they are. A restore into a new database (a proof, or --into) also compares every table's
row count with the backup's, and drops that database again when anything fails.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import tempfile
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql

from foundation.backups.pg_tools import Target, ToolMissing, find_tool, target, tool_env, tool_major
from foundation.files import CHUNK, first_line, sha256_of

__all__ = [
    "Backup",
    "BackupFailed",
    "BackupNotFound",
    "BackupUnusable",
    "RestoreFailed",
    "ToolMissing",
    "find",
    "list_backups",
    "prove",
    "restore",
    "take",
    "tool_versions",
]

MANIFEST_FORMAT = 1
DEFAULT_EXCLUDED = ("golive_release",)


class BackupUnusable(Exception):
    """The backup cannot be trusted to restore: the message names the problem."""


class BackupFailed(BackupUnusable):
    """No backup could be taken (nothing is left behind)."""


class RestoreFailed(BackupUnusable):
    """A restore was refused or failed; the target was left as it was."""


class BackupNotFound(Exception):
    pass


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


# --- reading the server ---------------------------------------------------------------------------------


def _connect(db: Target, **kwargs: Any) -> psycopg.Connection:
    try:
        return psycopg.connect(db.full_conninfo, connect_timeout=15, **kwargs)
    except psycopg.Error as exc:
        raise BackupFailed(f"cannot connect to {db.description}: {first_line(str(exc))}") from exc


def _server_major(conn: psycopg.Connection) -> int:
    row = conn.execute("SHOW server_version_num").fetchone()
    assert row is not None
    return int(row[0]) // 10000


def tool_versions(url: str) -> tuple[int, int]:
    """(pg_dump's major version, the server's major version)."""
    client = tool_major("pg_dump")
    with _connect(target(url), autocommit=True) as conn:
        return client, _server_major(conn)


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


def _table_key(schema: str, table: str) -> str:
    return table if schema == "public" else f"{schema}.{table}"


def _count_rows(conn: psycopg.Connection, excluded: tuple[str, ...]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for schema, table in conn.execute(_TABLES, [list(excluded)]).fetchall():
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        row = conn.execute(query).fetchone()
        assert row is not None
        counts[_table_key(schema, table)] = int(row[0])
    return counts


def _split_key(key: str) -> tuple[str, str]:
    schema, dot, table = key.partition(".")
    return (schema, table) if dot else ("public", key)


# --- files ------------------------------------------------------------------------------------------------


def _first_error(stderr: str) -> str:
    """The first error line of pg_dump/pg_restore/psql output, without the program's prefix."""
    for line in stderr.splitlines():
        match = re.search(r"(?:\berror:|\bERROR:|\bFATAL:)\s*(.*)", line)
        if match:
            return match.group(1).strip()
    return first_line(stderr) or "no error output"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
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


def take(url: str, dest_dir: Path, *, exclude_schemas: tuple[str, ...] = DEFAULT_EXCLUDED) -> Backup:
    """Dumps the database into dest_dir/<id>.dump with a <id>.json manifest beside it."""
    db = target(url)
    client_major = tool_major("pg_dump")
    dest_dir.mkdir(parents=True, exist_ok=True)
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
            row_counts = _count_rows(conn, exclude_schemas)
            # The exporting transaction stays open until pg_dump has imported the snapshot (and finished).
            _dump(db, snapshot, exclude_schemas, partial)
            conn.rollback()
        os.replace(partial, final)
    except psycopg.Error as exc:
        raise BackupFailed(f"backup of {db.description} failed: {first_line(str(exc))}") from exc
    finally:
        partial.unlink(missing_ok=True)
    backup = Backup(
        id=backup_id,
        path=final,
        sha256=sha256_of(final),
        size=final.stat().st_size,
        created_at=created_at,
        database=db.dbname,
        server_major=server_major,
        client_major=client_major,
        row_counts=row_counts,
        excluded_schemas=tuple(exclude_schemas),
    )
    try:
        _write_json(dest_dir / f"{backup_id}.json", backup.manifest())
    except BaseException:
        final.unlink(missing_ok=True)
        raise
    return backup


# --- restoring ----------------------------------------------------------------------------------------------


def _check_file(backup: Backup) -> None:
    if not backup.path.is_file():
        raise BackupUnusable(f"backup {backup.id}: file {backup.path} is missing")
    actual = sha256_of(backup.path)
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
    """The scratch database a proof of this backup restores into."""
    return ("golive_prove_" + re.sub(r"[^a-z0-9_]", "_", backup_id.lower()))[:63]


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
        raise RestoreFailed(f"cannot create database {name!r}: {first_line(str(exc))}") from exc
    db = admin.with_dbname(name)
    _run_restore(backup, db, clear=False)
    try:
        with _connect(db) as conn:
            restored = _count_rows(conn, backup.excluded_schemas)
    except psycopg.Error as exc:
        raise RestoreFailed(f"cannot count the restored rows: {first_line(str(exc))}") from exc
    problems = _compare_counts(backup, restored)
    if problems:
        raise RestoreFailed("; ".join(problems))
    return restored


def prove(backup: Backup, url: str) -> dict[str, int]:
    """Restores the backup into a scratch database on the same server and compares every table's row count
    with the backup's; the scratch database is dropped in every case. Returns the restored counts."""
    _check_file(backup)
    admin = target(url)
    name = scratch_name(backup.id)
    _drop_database(admin, name)  # a crashed earlier proof of this backup may have left it
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


def restore(backup: Backup, url: str, *, into: str | None = None) -> None:
    """into=None: replaces the contents of the database at `url` with the backup, in one transaction.
    into=NAME: creates database NAME on the same server (refused when it exists) and restores there."""
    _check_file(backup)
    db = target(url)
    if into is None:
        _run_restore(backup, db, clear=True)
        return
    if _database_exists(db, into):
        raise RestoreFailed(f"database {into!r} already exists; restore into a new name or drop it first")
    try:
        _restore_new_database(backup, db, into)
    except BaseException:
        with suppress(Exception):
            _drop_database(db, into)
        raise


# --- the backup folder --------------------------------------------------------------------------------------


def _from_manifest(path: Path) -> Backup:
    data = json.loads(path.read_text(encoding="utf-8"))
    return Backup(
        id=str(data["id"]),
        path=path.parent / str(data["file"]),
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


def find(dest_dir: Path, backup_id: str) -> Backup:
    backups = list_backups(dest_dir)
    for backup in backups:
        if backup.id == backup_id:
            return backup
    if not backups:
        raise BackupNotFound(f"no backup {backup_id!r}: there are no backups in {dest_dir}")
    newest = ", ".join(backup.id for backup in backups[:5])
    raise BackupNotFound(f"no backup {backup_id!r} in {dest_dir}; the newest are: {newest}")
