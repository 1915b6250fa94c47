"""prove and restore.

prove    the sha256 checked, then a restore into a scratch database on the same server, every table's row count
         compared with the backup's by the same rule (counting.py); the scratch database is dropped in every case.
restore  into a new database: refused when it exists, row counts compared, dropped again on any failure.
         Over the live database: one transaction wherever it runs (pipe.py). The database is either the backup or
         untouched; objects made after the backup go, the excluded schemas (the release's own state) stay.

Restoring beside the live database and swapping the two by renaming (the db host's way before) was dropped: the
swap would also replace what a dump leaves out — the release lock's schema, so a release rolling back would lose its
lease mid-restore and another could take it — and what belongs to the database rather than its contents (ALTER
DATABASE ... SET, grants on it); it needs rights a managed server's role lacks (renaming a database, ending other
sessions) and it ends every session. What the swap kept for a person, the data being replaced, is kept here too:
the live database is dumped first (a backup like any other, named `replaced` in the answer), so payments written
since the backup can still be reconciled; `keep_replaced=False` skips that when the live database cannot be dumped.
Row counts are not compared after that commit (the service may write again at once): the backup's were compared
when it was proven, and its sha256 is checked before restoring. A sealed backup is opened first (opening.py), every
part of it checked, into a private temporary file removed afterwards; `key` is the key it was sealed with."""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path
from typing import Any

import psycopg

from .backup import Backup
from .connection import Target, connect, target
from .counting import compare_counts, count_rows
from .errors import BackupUnusable, RestoreFailed, ToolMissing
from .opening import opened
from .pipe import run_restore
from .scratch import create_database, database_exists, drop_database, scratch_name, turn
from .sealing import Key
from .taking import take
from .tools import first_line


def _restore_new_database(backup: Backup, dump: Path, admin: Target, name: str) -> dict[str, int]:
    """Creates database `name`, restores into it and checks the row counts (RestoreFailed otherwise).
    The caller drops the database when this fails."""
    try:
        create_database(admin, name)
    except psycopg.Error as exc:
        raise RestoreFailed(f"cannot create database {name!r}: {first_line(str(exc))}") from exc
    db = admin.with_dbname(name)
    run_restore(dump, backup.excluded_schemas, db, clear=False)
    try:
        with connect(db) as conn:
            restored = count_rows(conn, backup.excluded_schemas)
    except psycopg.Error as exc:
        raise RestoreFailed(f"cannot count the restored rows: {first_line(str(exc))}") from exc
    problems = compare_counts(backup.row_counts, restored)
    if problems:
        raise RestoreFailed("; ".join(problems))
    return restored


def prove(
    backup: Backup, url: str, *, scratch: str | None = None, key: Key | None = None, work: Path | None = None
) -> dict[str, int]:
    """Restores the backup into a scratch database on the server of `url` (`scratch`, else one named after the
    backup) and compares every table's row count with the backup's; the scratch database is dropped in every
    case. Returns the restored counts. A sealed backup is opened with `key` under `work` (default: its folder)."""
    admin = target(url)
    name = scratch or scratch_name(backup.id)
    if name == admin.dbname:
        raise BackupUnusable(f"backup {backup.id}: the scratch database cannot be {name!r}, the database itself")
    with opened(backup, key, work) as dump, turn(admin, name):
        drop_database(admin, name)  # a crashed earlier proof may have left it
        try:
            restored = _restore_new_database(backup, dump, admin, name)
        except RestoreFailed as exc:
            drop_database(admin, name)
            raise BackupUnusable(f"backup {backup.id}: {exc}") from exc
        except BaseException:
            with suppress(Exception):
                drop_database(admin, name)
            raise
        drop_database(admin, name)
    return restored


def restore(
    backup: Backup,
    url: str,
    *,
    into: str | None = None,
    keep_replaced: bool = True,
    key: Key | None = None,
    folder: Path | None = None,
) -> dict[str, Any]:
    """into=None: replaces the contents of the database at `url` with the backup, in one transaction, after
    dumping what it holds now into `folder` (default: the backup's folder; sealed with `key` when given) unless
    keep_replaced=False.
    into=NAME: creates database NAME on the same server (refused when it exists) and restores there.
    A sealed backup is opened with `key` under `folder` first.
    Returns the answer: id, sha256, tables, rows (the backup's), into, replaced (the id of the kept dump)."""
    folder = folder or backup.path.parent
    with opened(backup, key, folder) as dump:
        return _restore(backup, dump, url, into=into, keep_replaced=keep_replaced, key=key, folder=folder)


def _restore(
    backup: Backup, dump: Path, url: str, *, into: str | None, keep_replaced: bool, key: Key | None, folder: Path
) -> dict[str, Any]:
    db = target(url)
    replaced = None
    if into is not None:
        if database_exists(db, into):
            raise RestoreFailed(f"database {into!r} already exists; restore into a new name or drop it first")
        try:
            _restore_new_database(backup, dump, db, into)
        except BaseException:
            with suppress(Exception):
                drop_database(db, into)
            raise
    else:
        if keep_replaced:
            try:
                replaced = take(url, folder, exclude_schemas=backup.excluded_schemas, key=key).id
            except (BackupUnusable, ToolMissing, OSError) as exc:
                raise RestoreFailed(
                    f"what {db.description} holds now could not be kept first ({exc}); restoring without keeping "
                    "it is a separate decision (keep_replaced=False, golive-backup restore --discard-replaced)"
                ) from exc
        run_restore(dump, backup.excluded_schemas, db, clear=True)
    return {
        "id": backup.id,
        "sha256": backup.sha256,
        "tables": len(backup.row_counts),
        "rows": sum(backup.row_counts.values()),
        "into": into,
        "replaced": replaced,
    }
