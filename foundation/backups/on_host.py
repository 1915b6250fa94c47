"""Backups kept on the database host itself (an environment with `backup_host:`, e.g. the lab): the `golive-backup`
program there (foundation/backups/dumps, installed by roles/backups) dumps, proves, verifies, lists and restores;
the dump never leaves the host. This module only builds its command lines and reads its answers: one JSON line at
the end of what it prints, its complaints on lines starting `golive-backup: `."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from typing import Any

from foundation.backups.taken import Taken
from foundation.transport import Transport

SCRIPT = "/usr/local/sbin/golive-backup"  # roles/backups: backups_script
TIMEOUT = 3600.0


class HostBackupFailed(RuntimeError):
    """golive-backup on the database host failed, or did not say what it did."""


def command(subcommand: str, *arguments: str, script: str = SCRIPT) -> str:
    """As postgres (peer authentication on the local socket), like the role's units: through sudo, which allows the
    deploy user exactly this program (roles/backups)."""
    return shlex.join(["sudo", "-n", "-u", "postgres", script, subcommand, *arguments])


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


def _taken(found: Mapping[str, Any], host: str, what: str) -> Taken:
    try:
        return Taken.from_summary(found, host=host)
    except (KeyError, TypeError, ValueError) as exc:
        raise HostBackupFailed(
            f"{host}: golive-backup {what} answered {found!r}, not a backup's summary ({exc!r})"
        ) from None


def _backup(transport: Transport, line: str, what: str) -> Taken:
    """A command answering one backup's summary."""
    return _taken(_answer(transport, line, what), transport.host, what)


def take(transport: Transport, *, script: str = SCRIPT) -> Taken:
    """Dump, then restore that very dump into the scratch database and compare row counts (exit 1 if they differ)."""
    taken = _backup(transport, command("release", script=script), "release")
    # As root, like the backup unit's ExecStartPost: node_exporter's textfile folder (GoliveBackupTooOld reads it).
    transport.run(shlex.join(["sudo", "-n", script, "metric"]), timeout=60)
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


def listed(transport: Transport, *, script: str = SCRIPT) -> list[Taken]:
    """Every backup kept on the host, newest first (from their manifests)."""
    found = _answer(transport, command("list", "--json", script=script), "list")
    summaries = found.get("backups")
    if not isinstance(summaries, list):
        raise HostBackupFailed(f"{transport.host}: golive-backup list answered {found!r}, not a list of backups")
    return [_taken(summary, transport.host, "list") for summary in summaries]


def verify(transport: Transport, backup_ids: tuple[str, ...] = (), *, script: str = SCRIPT) -> dict[str, str | None]:
    """Each named backup (every one when none is named): what is wrong with its file, None when it is whole."""
    found = _answer(transport, command("verify", "--", *backup_ids, script=script), "verify")
    verified = found.get("verified")
    if not isinstance(verified, dict) or not all(
        isinstance(key, str) and (value is None or isinstance(value, str)) for key, value in verified.items()
    ):
        raise HostBackupFailed(f"{transport.host}: golive-backup verify answered {found!r}, not what it verified")
    return verified


def prove(transport: Transport, backup_id: str, *, sha256: str | None = None, script: str = SCRIPT) -> Taken:
    """Restore the backup into the host's scratch database and compare every table's row count (exit 1 if they
    differ); with `sha256`, refused unless the dump is the one recorded."""
    options = ["--sha256", sha256] if sha256 else []
    return _backup(transport, command("prove", *options, "--", backup_id, script=script), f"prove {backup_id}")
