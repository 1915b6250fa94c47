"""The backups of a folder: listed newest first, found by id (only an id: never a path), verified against their
manifests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from .backup import BACKUP_ID, Backup, file_problem, read_manifest
from .errors import BackupNotFound, BackupUnusable


def list_backups(dest_dir: Path) -> list[Backup]:
    """Every backup in dest_dir, newest first (files that are not backup manifests are ignored)."""
    if not dest_dir.is_dir():
        return []
    backups = []
    for path in dest_dir.glob("*.json"):
        try:
            backups.append(read_manifest(path))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return sorted(backups, key=lambda backup: (backup.created_at, backup.id), reverse=True)


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


Found = TypeVar("Found", bound=_Identified)


def pick(backups: Sequence[Found], backup_id: str, place: str) -> Found:
    """The backup `backup_id` among `backups` (newest first) of `place` (a folder, for the message); BackupNotFound
    naming the newest ones there, and for what is no backup id at all (a path, say)."""
    if not BACKUP_ID.match(backup_id):
        raise BackupNotFound(f"{backup_id!r} is not a backup id (like 20260101T023000Z-3fa2b1; list the backups)")
    found = next((backup for backup in backups if backup.id == backup_id), None)
    if found is None and not backups:
        raise BackupNotFound(f"no backup {backup_id!r}: there are no backups in {place}")
    if found is None:
        newest = ", ".join(backup.id for backup in backups[:5])
        raise BackupNotFound(f"no backup {backup_id!r} in {place}; the newest are: {newest}")
    return found


def find(dest_dir: Path, backup_id: str, *, sha256: str | None = None) -> Backup:
    """The backup `backup_id` of dest_dir; with `sha256`, refused unless it is the very one that was recorded."""
    found = pick(list_backups(dest_dir), backup_id, str(dest_dir))
    if sha256 is not None and found.sha256 != sha256:
        raise BackupUnusable(
            f"backup {backup_id} is not the one recorded: its manifest says sha256 {found.sha256[:16]}…, "
            f"the record {sha256[:16]}…"
        )
    return found


def verify(dest_dir: Path, backup_ids: tuple[str, ...] = ()) -> dict[str, str | None]:
    """Each named backup (every one when none is named), newest first: what is wrong with its dump file, None when
    it is whole and the one its manifest names. A name that is no backup here: BackupNotFound."""
    backups = [find(dest_dir, backup_id) for backup_id in backup_ids] if backup_ids else list_backups(dest_dir)
    return {backup.id: file_problem(backup) for backup in backups}
