"""Backups: the newest is recent and really restores (foundation.backups.dumps.prove: a restore into a scratch
database, every table's row count compared), and every kept backup is intact (its checksum)."""

from __future__ import annotations

from typing import Any

from checks.context import Context
from checks.model import Result, failed, passed, unverified
from checks.registry import check
from foundation.backups import dumps as backups
from foundation.files import sha256_of


def folder(ctx: Context):
    return ctx.state.backups(ctx.env.name)


@check("backups.recent")
def recent(ctx: Context, args: dict[str, Any]) -> Result:
    found = backups.list_backups(folder(ctx))
    command = f"newest manifest in {folder(ctx)}; restore it into a scratch database (foundation.backups.dumps.prove)"
    if not found:
        return failed(f"no backup in {folder(ctx)}: take one with `fab backup --env {ctx.env.name}`", command)
    newest = found[0]
    age_hours = (ctx.now - newest.created_at).total_seconds() / 3600
    limit = float(ctx.config["backup_max_age_hours"])
    if age_hours > limit:
        return failed(f"the newest backup {newest.id} is {age_hours:.1f} h old (at most {limit:g} h)", command)
    if ctx.db_url is None:
        return unverified(f"backup {newest.id} is {age_hours:.1f} h old; no database to prove it restores", command)
    try:
        restored = backups.prove(newest, ctx.db_url)
    except (backups.BackupUnusable, backups.ToolMissing) as exc:
        return failed(f"backup {newest.id} does not restore: {exc}", command)
    rows = sum(restored.values())
    return passed(
        f"backup {newest.id}, {age_hours:.1f} h old, restored into a scratch database: "
        f"{len(restored)} tables, {rows} rows, counts equal",
        command,
        round(age_hours, 2),
    )


@check("backups.intact")
def intact(ctx: Context, args: dict[str, Any]) -> Result:
    """Every backup kept is whole: its file is there and matches its manifest's sha256."""
    found = backups.list_backups(folder(ctx))
    command = f"sha256sum of every backup in {folder(ctx)} against its manifest"
    if not found:
        return failed(f"no backup in {folder(ctx)}", command)
    broken = [b.id for b in found if not b.path.is_file() or sha256_of(b.path) != b.sha256]
    if broken:
        return failed(f"{len(broken)} of {len(found)} backups damaged or missing: {', '.join(broken)}", command)
    return passed(f"{len(found)} of {len(found)} backups intact (100 %)", command, 1.0)
