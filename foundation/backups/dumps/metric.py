"""node_exporter's textfile metric: when the newest whole backup of a folder was taken (GoliveBackupTooOld
alerts on it)."""

from __future__ import annotations

import os
from pathlib import Path

from .backup import Backup
from .catalogue import list_backups

METRIC = "golive_backup_last_success_timestamp_seconds"
METRIC_FILE = "golive_backup.prom"


def write_metric(dest_dir: Path, metrics_dir: Path, database: str) -> Backup | None:
    """Writes when the newest whole backup of dest_dir was taken into node_exporter's textfile collector folder
    (METRIC_FILE, 0644), through a temporary file renamed into place: node_exporter never reads half a file.
    Returns that backup; None (and nothing written) when there is none."""
    newest = next(
        (
            backup
            for backup in list_backups(dest_dir)
            if backup.path.is_file() and backup.path.stat().st_size == backup.kept[1]
        ),
        None,
    )
    if newest is None:
        return None
    text = (
        f"# HELP {METRIC} When the newest good pg_dump of {database} was taken (unix time).\n"
        f"# TYPE {METRIC} gauge\n"
        f"{METRIC} {int(newest.created_at.timestamp())}\n"  # whole seconds, as `date +%s` says
    )
    draft = metrics_dir / f".{METRIC_FILE}.{os.getpid()}.tmp"  # node_exporter reads *.prom only
    try:
        draft.write_text(text, encoding="utf-8")
        draft.chmod(0o644)
        os.replace(draft, metrics_dir / METRIC_FILE)
    finally:
        draft.unlink(missing_ok=True)
    return newest
