"""take: `pg_dump -Fc` inside an exported REPEATABLE READ snapshot, every table's rows counted in that same
snapshot, so the counts are exactly what the dump holds. <id>.dump, then its manifest <id>.json, each renamed into
place whole, 0600; `keep=N` leaves only the newest N afterwards. With a key the dump is sealed before it is put in
place (<id>.dump.sealed, sealing.py): the unsealed dump exists only as a hidden partial file, removed in every case."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from .backup import DEFAULT_EXCLUDED, Backup, Sealed, new_id, sha256_of, signed, write_manifest
from .catalogue import list_backups
from .connection import Target, connect, server_major, target, tool_env
from .counting import count_rows
from .errors import BackupFailed
from .sealing import SEALED_SUFFIX, Key, seal
from .tools import find_tool, first_error, first_line, tool_major


def _schema_pattern(name: str) -> str:
    """A pg_dump pattern matching exactly this schema name."""
    return '"' + name.replace('"', '""') + '"'


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
        raise BackupFailed(f"pg_dump of {db.description} failed: {first_error(result.stderr)}")


def take(
    url: str,
    dest_dir: Path,
    *,
    exclude_schemas: tuple[str, ...] = DEFAULT_EXCLUDED,
    keep: int | None = None,
    key: Key | None = None,
) -> Backup:
    """Dumps the database into dest_dir/<id>.dump (with `key`: sealed, <id>.dump.sealed) with its <id>.json
    manifest beside it; with `keep`, only the newest `keep` backups of dest_dir remain afterwards."""
    if keep is not None and keep < 1:
        raise ValueError(f"keep must be at least 1, not {keep}")
    db = target(url)
    client_major = tool_major("pg_dump")
    dest_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    created_at = datetime.now(UTC)
    backup_id = new_id(created_at)
    final = dest_dir / f"{backup_id}{SEALED_SUFFIX if key else '.dump'}"
    partial = dest_dir / f".{backup_id}.dump.partial"
    sealing = dest_dir / f".{backup_id}{SEALED_SUFFIX}.partial"
    try:
        os.close(
            os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        )  # pg_dump writes into it: 0600 from the start
        with connect(db) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            major = server_major(conn)
            row = conn.execute("SELECT pg_export_snapshot()").fetchone()
            assert row is not None
            snapshot = str(row[0])
            row_counts = count_rows(conn, exclude_schemas)
            # The exporting transaction stays open until pg_dump has imported the snapshot (and finished).
            _dump(db, snapshot, exclude_schemas, partial)
            conn.rollback()
        sha256, size = sha256_of(partial), partial.stat().st_size
        sealed = None
        if key is not None:
            seal(partial, sealing, key, backup_id)
            sealed = Sealed(sha256_of(sealing), sealing.stat().st_size)
            os.replace(sealing, final)
        else:
            os.replace(partial, final)
    except psycopg.Error as exc:
        raise BackupFailed(f"backup of {db.description} failed: {first_line(str(exc))}") from exc
    finally:
        partial.unlink(missing_ok=True)
        sealing.unlink(missing_ok=True)
    backup = Backup(
        id=backup_id,
        path=final,
        sha256=sha256,
        size=size,
        created_at=created_at,
        database=db.dbname,
        server_major=major,
        client_major=client_major,
        row_counts=row_counts,
        excluded_schemas=tuple(exclude_schemas),
        sealed=sealed,
    )
    if key is not None:
        backup = signed(backup, key)
    try:
        write_manifest(backup)
    except BaseException:
        final.unlink(missing_ok=True)
        raise
    if keep is not None:
        for old in list_backups(dest_dir)[keep:]:
            (dest_dir / f"{old.id}.json").unlink(missing_ok=True)  # the manifest first: no backup without a file
            old.path.unlink(missing_ok=True)
    return backup
