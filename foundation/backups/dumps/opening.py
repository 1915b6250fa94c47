"""A backup's dump as pg_restore reads it: its own file (sha256 checked), or, sealed, opened into a 0600 file in a
private temporary folder that is removed afterwards whatever happens. Everything is checked before pg_restore
reads a byte: the sealed file's sha256, the key, the manifest's mac, every chunk, and the dump's own sha256."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .backup import Backup, check_file, check_mac
from .errors import BackupUnusable
from .sealing import Key, unseal

WORK_PREFIX = ".golive-backup-"  # beside the backups (the same file system); never a backup's name


@contextmanager
def private_folder(work: Path) -> Iterator[Path]:
    """A new 0700 folder under `work`, removed with everything in it afterwards."""
    with tempfile.TemporaryDirectory(prefix=WORK_PREFIX, dir=work) as folder:
        yield Path(folder)


@contextmanager
def opened(backup: Backup, key: Key | None, work: Path | None = None) -> Iterator[Path]:
    """The path of the backup's pg_dump file, checked; sealed ones opened under `work` (default: the backup's
    folder)."""
    check_file(backup)
    if backup.sealed is None:
        yield backup.path
        return
    if key is None:
        raise BackupUnusable(f"backup {backup.id} is sealed and no key was given (golive-backup's key_file)")
    with private_folder(work or backup.path.parent) as folder:
        plain = folder / f"{backup.id}.dump"
        sha256, size = unseal(backup.path, plain, key, backup.id)
        check_mac(backup, key)
        if (sha256, size) != (backup.sha256, backup.size):
            raise BackupUnusable(
                f"backup {backup.id}: {backup.path} opens to a dump of sha256 {sha256[:16]}…, {size} bytes; "
                f"its manifest says {backup.sha256[:16]}…, {backup.size} bytes"
            )
        yield plain
