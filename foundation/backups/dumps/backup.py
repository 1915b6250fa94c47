"""A backup: <id>.dump (pg_dump -Fc) and its manifest <id>.json beside it (sha256, size, every table's row count,
...); a backup is one whose manifest exists and names its own id's dump. Both files are written whole (renamed into
place), 0600."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import BackupUnusable

MANIFEST_FORMAT = 1
DEFAULT_EXCLUDED = ("golive_release",)  # the release lock's schema (release/lock.py): never dumped nor restored
BACKUP_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}\Z")


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
        """What golive-backup answers about a backup (one JSON line) and a release records: no table names."""
        return {
            "id": self.id,
            "sha256": self.sha256,
            "size": self.size,
            "tables": len(self.row_counts),
            "rows": sum(self.row_counts.values()),
            "created_at": self.created_at.isoformat(),
        }


def new_id(now: datetime) -> str:
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def read_manifest(path: Path) -> Backup:
    """The backup a manifest describes; ValueError (or KeyError, TypeError) when it is no backup manifest."""
    data = json.loads(path.read_text(encoding="utf-8"))
    backup_id, file = str(data["id"]), str(data["file"])
    if not BACKUP_ID.match(backup_id) or file != f"{backup_id}.dump":
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


def write_manifest(backup: Backup) -> None:
    text = json.dumps(backup.manifest(), indent=2, sort_keys=True) + "\n"
    write_private(backup.path.with_name(f"{backup.id}.json"), text)


def write_private(path: Path, text: str) -> None:
    """Written whole (a temporary file renamed into place), 0600."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def file_problem(backup: Backup) -> str | None:
    """What is wrong with the backup's dump file (missing, or not the one its manifest's sha256 names); None if
    nothing is."""
    if not backup.path.is_file():
        return f"file {backup.path} is missing"
    actual = sha256_of(backup.path)
    if actual != backup.sha256:
        return f"checksum mismatch (file {actual[:16]}…, manifest {backup.sha256[:16]}…)"
    return None


def check_file(backup: Backup) -> None:
    """BackupUnusable unless the dump file is the one its manifest names."""
    problem = file_problem(backup)
    if problem is not None:
        raise BackupUnusable(f"backup {backup.id}: {problem}")
