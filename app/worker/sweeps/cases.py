"""Recovery cases follow the payments: open one for every newly stuck payment (its kind = the stuck reason), close
those whose payment moved on (recovered) or became stuck for another reason (escalated). Both statements are
idempotent, so an interrupted pass is simply finished by the next one."""

from __future__ import annotations

from app.recovery import cases
from app.worker.context import SweepContext


async def sweep(ctx: SweepContext) -> int:
    async with ctx.pool.connection() as conn:
        async with ctx.lease.fenced(conn):
            closed = await cases.close_moved_on(conn, ctx.settings, ctx.limit)
        async with ctx.lease.fenced(conn):
            opened = await cases.open_new(conn, ctx.settings, ctx.limit)
    if opened or closed:
        ctx.log.info(
            "recovery cases updated",
            extra={"opened": dict(opened), "closed": {f"{kind}:{how}": n for (kind, how), n in closed.items()}},
        )
    return sum(opened.values()) + sum(closed.values())
