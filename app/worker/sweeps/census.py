"""The stuck-item gauges (golive_recovery_stuck_items{reason}, golive_recovery_oldest_stuck_seconds), from the same
query as GET /api/admin/recovery/stuck. Read-only; returns how many payments are stuck."""

from __future__ import annotations

from app.metrics import OLDEST_STUCK, STUCK_ITEMS
from app.recovery.stuck import REASONS, census
from app.worker.context import SweepContext


async def sweep(ctx: SweepContext) -> int:
    async with ctx.pool.connection() as conn:
        counts = await census(conn, ctx.settings)
    for reason in REASONS:
        STUCK_ITEMS.labels(reason).set(counts.get(reason, (0, 0.0))[0])
    OLDEST_STUCK.set(max((age for _, age in counts.values()), default=0.0))
    return sum(count for count, _ in counts.values())


def clear() -> None:
    """A worker that is no longer the leader reports no census (the new leader does)."""
    for reason in REASONS:
        STUCK_ITEMS.labels(reason).set(0)
    OLDEST_STUCK.set(0)
