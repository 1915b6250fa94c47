"""A backup as the controller knows it, wherever it is kept (the controller's folder, or a database host's): what a
release records and restores, what the checks list, prove and verify."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Taken:
    id: str
    sha256: str
    size: int
    tables: int
    rows: int
    created_at: datetime
    host: str | None = None  # the database host it stays on; None: the controller's backup folder
    shipped: str | None = None  # the s3:// URL of its sealed copy in the backup bucket; None: not shipped

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any], *, host: str | None = None, shipped: str | None = None) -> Taken:
        """From a backup's summary (foundation.backups.dumps.Backup.summary, golive-backup's JSON answers, whose
        `shipped` says where `release` shipped it); KeyError, TypeError or ValueError for anything else."""
        created_at = datetime.fromisoformat(str(summary["created_at"]))
        if created_at.tzinfo is None:
            raise ValueError(f"created_at {summary['created_at']!r} has no time zone")
        return cls(
            str(summary["id"]),
            str(summary["sha256"]),
            int(summary["size"]),
            int(summary["tables"]),
            int(summary["rows"]),
            created_at,
            host,
            shipped or (str(summary["shipped"]) if summary.get("shipped") else None),
        )

    def record(self) -> dict[str, Any]:
        """For the release's audit record (checks/releases.py reads id, sha256, rows)."""
        recorded: dict[str, Any] = {
            "id": self.id,
            "sha256": self.sha256,
            "size": self.size,
            "tables": self.tables,
            "rows": self.rows,
        }
        where = {"host": self.host} if self.host else {}
        return {**recorded, **where, **({"shipped": self.shipped} if self.shipped else {})}

    def describe(self) -> str:
        where = f" on {self.host}" if self.host else ""
        return (
            f"backup {self.id}{where}: {self.size / 1e3:.0f} kB, sha256 {self.sha256[:16]}…, "
            f"{self.tables} tables, {self.rows} rows restored and counted; "
            + (f"shipped to {self.shipped}" if self.shipped else "not shipped (no backup bucket)")
        )
