"""A backup: <id>.dump (pg_dump -Fc) and its manifest <id>.json beside it (sha256, size, every table's row count,
...); a backup is one whose manifest exists and names its own id's dump. Both files are written whole (renamed into
place), 0600. Sealed with a key (sealing.py), the dump is kept as <id>.dump.sealed instead: the manifest then also
holds that file's own sha256 and size (`sealed`) and a mac, and its sha256 and size stay the dump's own."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import BackupUnusable
from .sealing import SEALED_SUFFIX, Key, manifest_mac

MANIFEST_FORMAT = 1
DEFAULT_EXCLUDED = ("golive_release",)  # the release lock's schema (release/lock.py): never dumped nor restored
BACKUP_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}\Z")


@dataclass(frozen=True)
class Sealed:
    """The sealed file a backup's dump is kept in: its own sha256 and size."""

    sha256: str
    size: int


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
    sealed: Sealed | None = None  # kept sealed (path: <id>.dump.sealed); sha256 and size are still the dump's
    mac: str | None = None  # a sealed backup's manifest, authenticated with the key (sealing.manifest_mac)

    @property
    def kept(self) -> tuple[str, int]:
        """The sha256 and size of its file as kept (the sealed file's, when sealed)."""
        return (self.sealed.sha256, self.sealed.size) if self.sealed else (self.sha256, self.size)

    def manifest(self) -> dict[str, Any]:
        """Its manifest without the mac."""
        sealed = {"sealed": {"sha256": self.sealed.sha256, "size": self.sealed.size}} if self.sealed else {}
        return {
            **sealed,
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
    sealed = data.get("sealed")
    if not BACKUP_ID.match(backup_id) or file != f"{backup_id}{SEALED_SUFFIX if sealed else '.dump'}":
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
        sealed=Sealed(str(sealed["sha256"]), int(sealed["size"])) if sealed else None,
        mac=str(data["mac"]) if data.get("mac") else None,
    )


def canonical(manifest: dict[str, Any]) -> bytes:
    """What a manifest's mac is computed over."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()


def signed(backup: Backup, key: Key) -> Backup:
    """The backup with its manifest's mac under `key`."""
    return replace(backup, mac=manifest_mac(key, canonical(backup.manifest())))


def write_manifest(backup: Backup) -> None:
    """<id>.json beside its file: the manifest, and its mac when it has one."""
    mac = {"mac": backup.mac} if backup.mac else {}
    text = json.dumps({**backup.manifest(), **mac}, indent=2, sort_keys=True) + "\n"
    write_private(backup.path.with_name(f"{backup.id}.json"), text)


def check_mac(backup: Backup, key: Key) -> None:
    """BackupUnusable unless the manifest is the one written with this key."""
    if backup.mac is None or not hmac.compare_digest(backup.mac, manifest_mac(key, canonical(backup.manifest()))):
        raise BackupUnusable(
            f"backup {backup.id}: its manifest was changed, or written with another key than {key.source}: refused"
        )


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
    """What is wrong with the backup's file (missing, or not the one its manifest's sha256 names: the sealed
    file's own, when sealed); None if nothing is."""
    if not backup.path.is_file():
        return f"file {backup.path} is missing"
    expected = backup.kept[0]
    actual = sha256_of(backup.path)
    if actual != expected:
        return f"checksum mismatch (file {backup.path.name}: {actual[:16]}…, manifest {expected[:16]}…)"
    return None


def check_file(backup: Backup) -> None:
    """BackupUnusable unless the dump file is the one its manifest names."""
    problem = file_problem(backup)
    if problem is not None:
        raise BackupUnusable(f"backup {backup.id}: {problem}")
