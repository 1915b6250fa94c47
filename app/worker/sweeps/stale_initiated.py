"""Payments still `initiated` long after they were created: the process sending the STK push stopped before it
recorded Daraja's answer, so whether the payer was prompted is unknown. They go to `unknown` (needs review) and are
never pushed again (Daraja has no idempotency); a callback that still comes settles them (it names our payment id)."""

from __future__ import annotations

from datetime import UTC, datetime

from app.payments import repository
from app.payments.model import INITIATED, UNKNOWN
from app.recovery import cases
from app.worker.context import SweepContext


async def sweep(ctx: SweepContext) -> int:
    after = ctx.settings.recovery_initiated_after_seconds
    async with ctx.pool.connection() as conn:
        cursor = await conn.execute(
            """SELECT id FROM payments WHERE state = 'initiated' AND created_at <= now() - make_interval(secs => %s)
               ORDER BY created_at LIMIT %s""",
            (after, ctx.limit),
        )
        stale = [row[0] for row in await cursor.fetchall()]
        reason = f"STK push outcome unknown: no answer recorded {after:.0f} s after the payment was created; not resent"
        moved = 0
        for payment_id in stale:
            async with ctx.lease.fenced(conn):
                changed = await repository.transition(
                    conn, payment_id, allowed_from=(INITIATED,), to_state=UNKNOWN, reason=reason,
                    detail={"source": "recovery", "actor": "worker"},
                    needs_review=True, failure_reason=reason, settled_at=datetime.now(UTC),
                )  # fmt: skip
                if changed is not None:
                    moved += 1
                    await cases.close_or_record(
                        conn, payment_id, kind="push_unanswered", opened_at=changed.created_at,
                        resolution=cases.ESCALATED, state=UNKNOWN, actor="worker", reason=reason,
                    )  # fmt: skip
    if moved:
        ctx.log.warning("initiated payments sent to review", extra={"count": moved})
    return moved
