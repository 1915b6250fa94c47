"""Backups: the newest is recent and really restores (a restore into a scratch database, every table's row count
compared), and every kept backup is intact (its checksum) — asked of wherever the environment keeps them
(foundation.backups.strategy: the controller's state folder, or its backup_host's golive-backup)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from checks.context import Context
from checks.model import CheckError, Result, Status, failed, passed, unverified
from checks.registry import check
from foundation.backups import dumps, strategy
from foundation.backups.on_host import HostBackupFailed
from foundation.transport import HostUnreachable

Answer = TypeVar("Answer")


def backups_of(ctx: Context) -> strategy.Backups:
    """Where the environment keeps its backups (the same place its releases take them)."""
    return strategy.for_environment(ctx.env, ctx.fleet, ctx.db_url, ctx.state)


def ask(question: Callable[[], Answer], command: str) -> Answer:
    """The backups' answer; when their host did not give one, the check's result says why (CheckError)."""
    try:
        return question()
    except HostUnreachable as exc:
        raise CheckError(f"could not check: {exc}", command=command, status=Status.UNVERIFIED) from None
    except HostBackupFailed as exc:
        raise CheckError(str(exc), command=command) from None


@check("backups.recent")
def recent(ctx: Context, args: dict[str, Any]) -> Result:
    backups = backups_of(ctx)
    command = f"newest manifest in {backups.place}; restore it into a scratch database, compare every row count"
    found = ask(backups.list, command)
    if not found:
        return failed(f"no backup in {backups.place}: take one with `fab backup --env {ctx.env.name}`", command)
    newest = found[0]
    age_hours = (ctx.now - newest.created_at).total_seconds() / 3600
    limit = float(ctx.config["backup_max_age_hours"])
    if age_hours > limit:
        return failed(f"the newest backup {newest.id} is {age_hours:.1f} h old (at most {limit:g} h)", command)
    try:
        proven = backups.prove(newest.id, sha256=newest.sha256)
    except strategy.NoDatabase:
        return unverified(f"backup {newest.id} is {age_hours:.1f} h old; no database to prove it restores", command)
    except HostUnreachable as exc:
        return unverified(f"could not check: {exc}", command)
    except (dumps.BackupNotFound, *strategy.FAILURES) as exc:
        return failed(f"backup {newest.id} does not restore: {exc}", command)
    return passed(
        f"backup {newest.id}, {age_hours:.1f} h old, restored into a scratch database: "
        f"{proven.tables} tables, {proven.rows} rows, counts equal",
        command,
        round(age_hours, 2),
    )


@check("backups.intact")
def intact(ctx: Context, args: dict[str, Any]) -> Result:
    """Every backup kept is whole: its file is there and matches its manifest's sha256."""
    backups = backups_of(ctx)
    command = f"sha256sum of every backup in {backups.place} against its manifest"
    verified = ask(backups.verify, command)
    if not verified:
        return failed(f"no backup in {backups.place}", command)
    broken = [backup_id for backup_id, problem in verified.items() if problem is not None]
    if broken:
        return failed(f"{len(broken)} of {len(verified)} backups damaged or missing: {', '.join(broken)}", command)
    return passed(f"{len(verified)} of {len(verified)} backups intact (100 %)", command, 1.0)
