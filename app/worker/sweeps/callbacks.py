"""Callbacks stored but never applied (the process died between storing and applying): apply them now.

Interruptible: a callback stays 'received' until the one statement that applies it also marks it, and applying is
idempotent (the same rules as at arrival), so the web process and the worker may both try it at once."""

from __future__ import annotations

from app.payments.callbacks import apply_pending
from app.worker.context import SweepContext


async def sweep(ctx: SweepContext) -> int:
    return await apply_pending(ctx.pool, limit=ctx.limit)
