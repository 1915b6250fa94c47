"""Submitted payments with no callback T after the push: ask Daraja (STK Push Query) with exponential backoff;
4999 / 500.001.1001 mean "ask later"; a definite answer settles the payment by the callback rules; past the
deadline the payment goes to unknown (needs review). See app.recovery.stk_query for the crash-safety argument."""

from __future__ import annotations

from app.recovery import stk_query
from app.worker.context import SweepContext


async def sweep(ctx: SweepContext) -> int:
    async with ctx.pool.connection() as conn:
        items = await stk_query.due(conn, ctx.settings, ctx.limit)
    for item in items:
        result = await stk_query.query_and_settle(ctx.pool, ctx.daraja, ctx.settings, item, guard=ctx.lease.fenced)
        ctx.log.debug("queried", extra={"payment_id": str(item.payment.id), "answer": result.answer})
    return len(items)
