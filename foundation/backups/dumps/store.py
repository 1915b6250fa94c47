"""Where a program's backups are kept: a folder, sealed there with a key when one is given, shipped to a bucket when
one is. The one way golive-backup (program.py) and the controller (foundation/backups/strategy.py) take, list,
find, prove and restore them.

    store = Store(folder, key, bucket)
    backup = store.take(url, keep=14)        # sealed when there is a key
    store.prove(backup, url)                 # opened (every part checked), restored into a scratch database
    store.ship(backup)                       # to the bucket: its s3:// URL; None (said once) without a bucket
    store.list()                             # the folder's and the bucket's, newest first
    with store.found(backup_id) as backup:   # the folder's copy, else fetched from the bucket (0600, removed after)
        restore(backup, url, key=store.key, folder=store.folder)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .backup import BACKUP_ID, DEFAULT_EXCLUDED, Backup, file_problem
from .catalogue import find, list_backups, pick, verify
from .errors import BackupNotFound, BackupUnusable
from .opening import private_folder
from .restoring import prove, restore
from .sealing import Key
from .shipping import PREFIX, Bucket, fetch, listed, ship
from .taking import take


@dataclass(frozen=True)
class Store:
    folder: Path
    key: Key | None = None
    bucket: Bucket | None = None

    def __post_init__(self) -> None:
        if self.bucket is not None and self.key is None:
            raise BackupUnusable(f"backups shipped to {self.bucket.describe()} must be sealed: no key was given")

    @property
    def place(self) -> str:
        """Where they are kept, for a person."""
        return str(self.folder) + (f" and {self.bucket.describe()}" if self.bucket else "")

    def take(self, url: str, *, keep: int | None = None, exclude: tuple[str, ...] = DEFAULT_EXCLUDED) -> Backup:
        return take(url, self.folder, exclude_schemas=exclude, keep=keep, key=self.key)

    def prove(self, backup: Backup, url: str, *, scratch: str | None = None) -> dict[str, int]:
        return prove(backup, url, scratch=scratch, key=self.key, work=self.folder)

    def restore(self, backup: Backup, url: str, **options: Any) -> dict[str, Any]:
        return restore(backup, url, key=self.key, folder=self.folder, **options)

    def ship(self, backup: Backup) -> str | None:
        """To the bucket; None when there is none."""
        if self.bucket is None:
            return None
        return ship(self.bucket, backup, self.folder / f"{backup.id}.json")

    def list_here(self) -> list[Backup]:
        return list_backups(self.folder)

    def bucket_url(self, backup: Backup) -> str:
        """Where the bucket keeps a backup's file."""
        assert self.bucket is not None
        return self.bucket.url(PREFIX + backup.path.name)

    def list(self) -> list[Backup]:
        """The folder's backups and the bucket's (one entry per id, the folder's first), newest first."""
        here = list_backups(self.folder)
        if self.bucket is None:
            return here
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with private_folder(self.folder) as folder:
            there = listed(self.bucket, folder)
        ids = {backup.id for backup in here}
        both = here + [backup for backup in there if backup.id not in ids]
        return sorted(both, key=lambda backup: (backup.created_at, backup.id), reverse=True)

    @contextmanager
    def found(self, backup_id: str, *, sha256: str | None = None) -> Iterator[Backup]:
        """The backup `backup_id`: the folder's, else (with a bucket) fetched into a private folder, removed after.
        With `sha256`, refused unless it is the very one recorded."""
        try:
            here = find(self.folder, backup_id, sha256=sha256)
        except BackupNotFound:
            if self.bucket is None or not BACKUP_ID.match(backup_id):
                raise
            here = None
        if here is not None:
            yield here
            return
        assert self.bucket is not None
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with private_folder(self.folder) as folder:
            try:
                fetched = fetch(self.bucket, backup_id, folder)
            except BackupNotFound:
                pick(list_backups(self.folder), backup_id, self.place)  # names the newest of the folder
                raise
            problem = file_problem(fetched)
            if problem is not None:
                raise BackupUnusable(f"backup {backup_id} from {self.bucket_url(fetched)}: {problem}")
            yield find(folder, fetched.id, sha256=sha256)

    def verify(self, backup_ids: tuple[str, ...] = ()) -> dict[str, str | None]:
        """The folder's backups (the bucket's copies are checked when they are fetched)."""
        return verify(self.folder, backup_ids)
