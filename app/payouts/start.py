"""Step 1: a paid payment gets its payout row (amount in the token's base units) and enters payout_pending."""

from __future__ import annotations

from decimal import Decimal

from app.payments.model import PAID, PAYOUT_PENDING
from app.payouts import repository
from app.payouts.context import PayoutContext
from app.payouts.metrics import PAYOUT_STEPS


def units(usdt_amount: Decimal, decimals: int) -> int:
    scaled = Decimal(usdt_amount).scaleb(decimals)
    if scaled != scaled.to_integral_value() or scaled <= 0:
        raise ValueError(f"{usdt_amount} USDT is not a whole number of base units at {decimals} decimals")
    return int(scaled)


async def start_payouts(ctx: PayoutContext, limit: int = 200) -> int:
    started = 0
    async with ctx.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT p.id, p.wallet_address, k.usdt_amount FROM payments p JOIN packages k ON k.id = p.package_id"
            " WHERE p.state = 'paid' ORDER BY p.settled_at NULLS FIRST LIMIT %s",
            (limit,),
        )
        due = await cursor.fetchall()
        if not due:
            return 0  # nothing to pay: the chain is not even asked (a worker runs fine while it is away)
        decimals = await ctx.decimals()
        for payment_id, wallet, usdt_amount in due:
            async with conn.transaction():
                moved = await repository.move(
                    conn,
                    payment_id,
                    allowed_from=(PAID,),
                    to_state=PAYOUT_PENDING,
                    reason="payout queued",
                    detail={"usdt": str(usdt_amount)},
                )
                if not moved:
                    continue  # changed meanwhile (a person resolved it): nothing to pay out
                await conn.execute(
                    "INSERT INTO payouts (payment_id, chain_id, token_address, sender, to_address, amount_units)"
                    " VALUES (%s, %s, %s, %s, %s, %s)",
                    (payment_id, ctx.chain_id, ctx.token, ctx.sender, wallet, units(usdt_amount, decimals)),
                )
            started += 1
            PAYOUT_STEPS.labels("started").inc()
    return started
