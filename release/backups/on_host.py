"""Backups taken on the database host itself (an environment with `backup_host:`, e.g. the lab): the
`golive-backup` program there (foundation/backups/dumps.py, installed by roles/backups) dumps, proves and
restores; the dump never leaves the host. This module only builds its command lines and reads its answers:
one JSON line at the end of what it prints, its complaints on lines starting `golive-backup: `."""

from __future__ import annotations

import json
import shlex
from typing import Any

from foundation.transport import Transport
from release.backups.taken import Taken

SCRIPT = "/usr/local/sbin/golive-backup"  # roles/backups: backups_script
TIMEOUT = 3600.0


class HostBackupFailed(RuntimeError):
    """golive-backup on the database host failed, or did not say what it did."""


def command(subcommand: str, *arguments: str, script: str = SCRIPT) -> str:
    """As postgres (peer authentication on the local socket), like the role's units."""
    return shlex.join(["runuser", "-u", "postgres", "--", script, subcommand, *arguments])


def report(output: str, host: str, what: str) -> dict[str, Any]:
    """The JSON line golive-backup ends its answer with."""
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            try:
                found = json.loads(line)
            except ValueError:
                break
            if isinstance(found, dict):
                return found
            break
    raise HostBackupFailed(
        f"{host}: golive-backup {what} gave no report (is the backups role converged?): {output[-300:]}"
    )


def _answer(transport: Transport, line: str, what: str) -> dict[str, Any]:
    result = transport.run(line, timeout=TIMEOUT, check=False)
    if result.code != 0:
        said = [text for text in result.output.splitlines() if text.startswith("golive-backup: ")]
        why = said[-1].removeprefix("golive-backup: ") if said else result.output.strip()[-300:]
        raise HostBackupFailed(f"{transport.host}: golive-backup {what} failed (exit {result.code}): {why}")
    return report(result.output, transport.host, what)


def take(transport: Transport, *, script: str = SCRIPT) -> Taken:
    """Dump, then restore that very dump into the scratch database and compare row counts (exit 1 if they differ)."""
    found = _answer(transport, command("release", script=script), "release")
    try:
        taken = Taken.from_summary(found, host=transport.host)
    except (KeyError, TypeError, ValueError) as exc:
        raise HostBackupFailed(
            f"{transport.host}: golive-backup release answered {found!r}, not a backup's summary ({exc!r})"
        ) from None
    # As root, like the backup unit's ExecStartPost: node_exporter's textfile folder (GoliveBackupTooOld reads it).
    transport.run(shlex.join([script, "metric"]), timeout=60)
    return taken


def restore(
    transport: Transport,
    backup_id: str,
    *,
    sha256: str | None = None,
    into: str | None = None,
    keep_replaced: bool = True,
    script: str = SCRIPT,
) -> dict[str, Any]:
    """Over the live database (what it held dumped first unless keep_replaced=False), or into a new database;
    with `sha256`, refused unless the dump is the one recorded. The answer: id, sha256, tables, rows, into,
    replaced (the id of the dump of what was replaced)."""
    options = [*(["--sha256", sha256] if sha256 else []), *(["--into", into] if into else [])]
    if not keep_replaced:
        options.append("--discard-replaced")
    # "--": whatever the id is, it is not an option (the program refuses what is no backup id).
    return _answer(transport, command("restore", *options, "--", backup_id, script=script), f"restore {backup_id}")
