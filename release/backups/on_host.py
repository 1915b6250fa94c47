"""The release's backup taken on the database host itself (an environment with `backup_host:`, e.g. the lab):
roles/backups' `golive-backup` dumps from an exported snapshot, proves the dump by restoring it into a scratch
database there and comparing every table's row count, and — when an irreversible migration must be undone —
restores it over the live database. The dump never leaves the host; the controller keeps its id and sha256."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from foundation.transport import Transport

SCRIPT = "/usr/local/sbin/golive-backup"  # roles/backups: backups_script


class HostBackupFailed(RuntimeError):
    """golive-backup on the database host did not say what it did."""


@dataclass(frozen=True)
class HostBackup:
    host: str
    id: str  # the dump's name on the host, <database>-<UTC time>
    sha256: str
    size: int
    tables: int
    rows: int

    def record(self) -> dict[str, Any]:
        return {"id": self.id, "sha256": self.sha256, "rows": self.rows, "host": self.host}


def command(subcommand: str, *arguments: str, script: str = SCRIPT) -> str:
    """As postgres (peer authentication on the local socket), like the role's units."""
    return shlex.join(["runuser", "-u", "postgres", "--", script, subcommand, *arguments])


def report(output: str, host: str, what: str) -> dict[str, Any]:
    """The JSON line golive-backup ends its answer with."""
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                break
    raise HostBackupFailed(
        f"{host}: golive-backup {what} gave no report (is the backups role converged?): {output[-300:]}"
    )


def take(transport: Transport, *, script: str = SCRIPT) -> HostBackup:
    """Dump, then restore that very dump into the scratch database and compare row counts (exit 1 if they differ)."""
    answer = transport.run(command("release", script=script), timeout=3600)
    found = report(answer.output, transport.host, "release")
    # As root, like the backup unit's ExecStartPost: node_exporter's textfile folder (GoliveBackupTooOld reads it).
    transport.run(shlex.join([script, "metric"]), timeout=60)
    return HostBackup(
        transport.host, found["name"], found["sha256"], int(found["bytes"]), int(found["tables"]), int(found["rows"])
    )


def restore(transport: Transport, backup: HostBackup, *, script: str = SCRIPT) -> dict[str, Any]:
    """Over the live database: its sha256 checked first, row counts compared after."""
    answer = transport.run(command("restore", backup.id, script=script), timeout=3600)
    return report(answer.output, transport.host, "restore")
