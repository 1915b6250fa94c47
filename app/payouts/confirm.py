"""Step 4: a mined payout completes once the head is `payout_confirmations` blocks deep over its receipt
(the receipt's block counting as one) and the receipt, read again then, is still in the same block. A
receipt gone or moved means a reorganisation: back to broadcast (the stored transaction is sent again) or
the new block is counted from."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from app.payments.model import BROADCAST, COMPLETED, CONFIRMING
from app.payouts import chain_reads, repository
from app.payouts.context import PayoutContext
from app.payouts.metrics import PAYOUT_SECONDS, PAYOUT_STEPS

log = logging.getLogger("golive.payouts")


async def confirm_payouts(ctx: PayoutContext, limit: int = 200) -> int:
    async with ctx.pool.connection() as conn:
        confirming = await repository.payouts_in(conn, CONFIRMING, limit)
    if not confirming:
        return 0
    head = int(await ctx.rpc.call("eth_blockNumber"), 16)
    done = 0
    for payout in confirming:
        assert payout.block_number is not None and payout.tx_hash is not None
        if head - payout.block_number + 1 < ctx.settings.payout_confirmations:
            continue
        receipt = await chain_reads.receipt(ctx.rpc, payout.tx_hash)
        if receipt is None:
            await _reorged_out(ctx, payout)
        elif receipt["blockHash"] != payout.block_hash:
            await _moved(ctx, payout, receipt)
        else:
            await _complete(ctx, payout)
            done += 1
    return done


async def _complete(ctx: PayoutContext, payout: repository.Payout) -> None:
    async with ctx.pool.connection() as conn, conn.transaction():
        moved = await repository.move(
            conn,
            payout.payment_id,
            allowed_from=(CONFIRMING,),
            to_state=COMPLETED,
            reason=f"payout confirmed ({ctx.settings.payout_confirmations} blocks)",
            detail={"tx_hash": payout.tx_hash, "block": payout.block_number},
        )
        if moved:
            await conn.execute(
                "UPDATE payouts SET completed_at = now(), updated_at = now() WHERE payment_id = %s",
                (payout.payment_id,),
            )
    if moved:
        PAYOUT_STEPS.labels("completed").inc()
        if payout.settled_at is not None:
            PAYOUT_SECONDS.observe(max(0.0, (datetime.now(UTC) - payout.settled_at).total_seconds()))


async def _reorged_out(ctx: PayoutContext, payout: repository.Payout) -> None:
    async with ctx.pool.connection() as conn, conn.transaction():
        await conn.execute("UPDATE payout_transactions SET sent_at = NULL WHERE tx_hash = %s", (payout.tx_hash,))
        await conn.execute(
            "UPDATE payouts SET tx_hash = NULL, block_number = NULL, block_hash = NULL, updated_at = now()"
            " WHERE payment_id = %s",
            (payout.payment_id,),
        )
        await repository.move(
            conn,
            payout.payment_id,
            allowed_from=(CONFIRMING,),
            to_state=BROADCAST,
            reason="payout receipt gone (reorganisation): sending it again",
            detail={"tx_hash": payout.tx_hash, "block": payout.block_number},
        )
    PAYOUT_STEPS.labels("reorged").inc()
    log.warning("payout receipt disappeared; resending", extra={"payment_id": str(payout.payment_id)})


async def _moved(ctx: PayoutContext, payout: repository.Payout, receipt: dict) -> None:
    async with ctx.pool.connection() as conn:
        await conn.execute(
            "UPDATE payouts SET block_number = %s, block_hash = %s, updated_at = now() WHERE payment_id = %s",
            (int(receipt["blockNumber"], 16), receipt["blockHash"], payout.payment_id),
        )
    PAYOUT_STEPS.labels("reorged").inc()
