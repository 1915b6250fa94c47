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
when it was proven, and its sha256 is checked before restoring."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

import psycopg

from .backup import Backup, check_file
from .connection import Target, connect, target
from .counting import compare_counts, count_rows
from .errors import BackupUnusable, RestoreFailed, ToolMissing
from .pipe import run_restore
from .scratch import create_database, database_exists, drop_database, scratch_name, turn
from .taking import take
from .tools import first_line


def _restore_new_database(backup: Backup, admin: Target, name: str) -> dict[str, int]:
    """Creates database `name`, restores into it and checks the row counts (RestoreFailed otherwise).
    The caller drops the database when this fails."""
    try:
        create_database(admin, name)
    except psycopg.Error as exc:
        raise RestoreFailed(f"cannot create database {name!r}: {first_line(str(exc))}") from exc
    db = admin.with_dbname(name)
    run_restore(backup, db, clear=False)
    try:
        with connect(db) as conn:
            restored = count_rows(conn, backup.excluded_schemas)
    except psycopg.Error as exc:
        raise RestoreFailed(f"cannot count the restored rows: {first_line(str(exc))}") from exc
    problems = compare_counts(backup.row_counts, restored)
    if problems:
        raise RestoreFailed("; ".join(problems))
    return restored


def prove(backup: Backup, url: str, *, scratch: str | None = None) -> dict[str, int]:
    """Restores the backup into a scratch database on the server of `url` (`scratch`, else one named after the
    backup) and compares every table's row count with the backup's; the scratch database is dropped in every
    case. Returns the restored counts."""
    check_file(backup)
    admin = target(url)
    name = scratch or scratch_name(backup.id)
    if name == admin.dbname:
        raise BackupUnusable(f"backup {backup.id}: the scratch database cannot be {name!r}, the database itself")
    with turn(admin, name):
        drop_database(admin, name)  # a crashed earlier proof may have left it
        try:
            restored = _restore_new_database(backup, admin, name)
        except RestoreFailed as exc:
            drop_database(admin, name)
            raise BackupUnusable(f"backup {backup.id}: {exc}") from exc
        except BaseException:
            with suppress(Exception):
                drop_database(admin, name)
            raise
        drop_database(admin, name)
    return restored


def restore(backup: Backup, url: str, *, into: str | None = None, keep_replaced: bool = True) -> dict[str, Any]:
    """into=None: replaces the contents of the database at `url` with the backup, in one transaction, after
    dumping what it holds now into the backup's folder (unless keep_replaced=False).
    into=NAME: creates database NAME on the same server (refused when it exists) and restores there.
    Returns the answer: id, sha256, tables, rows (the backup's), into, replaced (the id of the kept dump)."""
    check_file(backup)
    db = target(url)
    replaced = None
    if into is not None:
        if database_exists(db, into):
            raise RestoreFailed(f"database {into!r} already exists; restore into a new name or drop it first")
        try:
            _restore_new_database(backup, db, into)
        except BaseException:
            with suppress(Exception):
                drop_database(db, into)
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
        run_restore(backup, db, clear=True)
    return {
        "id": backup.id,
        "sha256": backup.sha256,
        "tables": len(backup.row_counts),
        "rows": sum(backup.row_counts.values()),
        "into": into,
        "replaced": replaced,
    }
