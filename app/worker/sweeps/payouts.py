"""The USDT payout steps (app/payouts) as sweeps: paid → payout_pending → broadcast → confirming → completed.

Interruptible anywhere: each step commits one payout at a time, a payout's nonce is taken under its row's
lock, its signed transaction is stored before it is sent, and a resend or a second worker's attempt changes
nothing (see app/payouts/__init__.py). Payouts need no fencing beyond that: even two workers at once cannot
pay one payment twice."""

from __future__ import annotations

from app.payouts import confirm, send, start, track
from app.payouts.context import PayoutContext, payout_context
from app.worker.context import SweepContext

_contexts: dict[int, PayoutContext] = {}


def _payouts(ctx: SweepContext) -> PayoutContext:
    """One per process (it caches the token's decimals), built from the worker's services."""
    key = id(ctx.services)
    if key not in _contexts:
        _contexts[key] = payout_context(ctx.settings, ctx.pool, ctx.services.rpc)
    return _contexts[key]


async def start_payouts(ctx: SweepContext) -> int:
    if not ctx.settings.payouts_enabled:
        return 0
    return await start.start_payouts(_payouts(ctx), ctx.limit)


async def send_payouts(ctx: SweepContext) -> int:
    if not ctx.settings.payouts_enabled:
        return 0
    return await send.send_payouts(_payouts(ctx), ctx.limit)


async def track_payouts(ctx: SweepContext) -> int:
    return await track.track_payouts(_payouts(ctx), ctx.limit)


async def confirm_payouts(ctx: SweepContext) -> int:
    return await confirm.confirm_payouts(_payouts(ctx), ctx.limit)
