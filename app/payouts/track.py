"""Step 3: a broadcast payout's transactions — every one signed at its nonce — checked for a receipt.

Success is a receipt with status 1 *and* the token's Transfer log (from the treasury, to the wallet, for the
amount): Tether's transfer returns nothing, so nothing else proves it. A revert, or a success without the
Transfer, fails the payout for a person. No receipt after `payout_stuck_seconds` → the transaction is
replaced at the same nonce with fees at least `payout_fee_bump_percent` higher.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from app.chain import token
from app.payments.model import BROADCAST, CONFIRMING, PAYOUT_FAILED
from app.payouts import chain_reads, fees, repository
from app.payouts.context import PayoutContext
from app.payouts.metrics import PAYOUT_STEPS
from app.payouts.send import GWEI, send_one, sign_and_store

log = logging.getLogger("golive.payouts")


async def track_payouts(ctx: PayoutContext, limit: int = 200) -> int:
    async with ctx.pool.connection() as conn:
        broadcast = await repository.payouts_in(conn, BROADCAST, limit)
    if not broadcast:
        return 0
    chain_count = await chain_reads.confirmed_nonce(ctx.rpc, ctx.sender)
    moved = 0
    for payout in broadcast:
        moved += await _track_one(ctx, payout, chain_count)
    return moved


async def _track_one(ctx: PayoutContext, payout: repository.Payout, chain_count: int) -> int:
    async with ctx.pool.connection() as conn:
        sent = [tx for tx in await repository.transactions(conn, payout.payment_id) if tx.nonce == payout.nonce]
    for tx in reversed(sent):
        found = await chain_reads.receipt(ctx.rpc, tx.tx_hash)
        if found is not None:
            await _settle(ctx, payout, tx.tx_hash, found)
            return 1
    assert payout.nonce is not None
    if chain_count > payout.nonce:
        # The nonce is spent but none of our transactions has a receipt: another transaction took it.
        await _fail(ctx, payout, f"nonce {payout.nonce} was used by a transaction this service did not send")
        return 1
    newest = sent[-1] if sent else None
    if newest is None or newest.sent_at is None:
        return 0  # the send step sends it (again)
    if (datetime.now(UTC) - newest.created_at).total_seconds() >= ctx.settings.payout_stuck_seconds:
        await _replace(ctx, payout, newest)
    return 0


async def _settle(ctx: PayoutContext, payout: repository.Payout, tx_hash: str, receipt: dict) -> None:
    block_number, block_hash = int(receipt["blockNumber"], 16), receipt["blockHash"]
    if receipt.get("status") not in ("0x1", 1):
        PAYOUT_STEPS.labels("reverted").inc()
        await _fail(ctx, payout, f"transaction {tx_hash} reverted in block {block_number}")
        return
    if not token.pays(receipt, token=ctx.token, sender=ctx.sender, to=payout.to_address, amount=payout.amount):
        await _fail(ctx, payout, f"transaction {tx_hash} succeeded without the expected Transfer event")
        return
    async with ctx.pool.connection() as conn, conn.transaction():
        await conn.execute(
            "UPDATE payouts SET tx_hash = %s, block_number = %s, block_hash = %s, updated_at = now()"
            " WHERE payment_id = %s",
            (tx_hash, block_number, block_hash, payout.payment_id),
        )
        await repository.move(
            conn,
            payout.payment_id,
            allowed_from=(BROADCAST,),
            to_state=CONFIRMING,
            reason="payout mined",
            detail={"tx_hash": tx_hash, "block": block_number},
        )
    PAYOUT_STEPS.labels("mined").inc()


async def _fail(ctx: PayoutContext, payout: repository.Payout, reason: str) -> None:
    async with ctx.pool.connection() as conn, conn.transaction():
        await conn.execute(
            "UPDATE payouts SET last_error = %s, updated_at = now() WHERE payment_id = %s",
            (reason[:500], payout.payment_id),
        )
        await repository.move(
            conn,
            payout.payment_id,
            allowed_from=(BROADCAST,),
            to_state=PAYOUT_FAILED,
            reason=reason,
            needs_review=True,
        )
    PAYOUT_STEPS.labels("failed").inc()
    log.error("payout failed: needs review", extra={"payment_id": str(payout.payment_id), "reason": reason})


async def _replace(ctx: PayoutContext, payout: repository.Payout, stuck: repository.SentTransaction) -> None:
    base, tip = await chain_reads.fee_inputs(ctx.rpc)
    previous = fees.Fees(int(stuck.max_fee_per_gas), int(stuck.max_priority_fee_per_gas))
    try:
        chosen = fees.bumped(
            previous, base, tip, ctx.settings.payout_fee_bump_percent, int(ctx.settings.payout_max_fee_gwei * GWEI)
        )
    except fees.FeeCapExceeded as exc:
        async with ctx.pool.connection() as conn:
            await repository.set_waiting(conn, payout.payment_id, str(exc))
        return
    assert payout.nonce is not None
    async with ctx.pool.connection() as conn, conn.transaction():
        signed = await sign_and_store(ctx, conn, payout, nonce=payout.nonce, gas=stuck.gas_limit, fees=chosen)
        await conn.execute(
            "INSERT INTO payment_events (payment_id, from_state, to_state, reason, detail)"
            " VALUES (%s, 'broadcast', 'broadcast', 'payout replaced (stuck)', jsonb_build_object("
            "'replaces', %s::text, 'tx_hash', %s::text, 'max_fee_gwei', %s::float8))",
            (payout.payment_id, stuck.tx_hash, signed.tx_hash, chosen.max_fee_per_gas / GWEI),
        )
    PAYOUT_STEPS.labels("replaced").inc()
    await send_one(ctx, signed.tx_hash, signed.raw)  # a failure is recorded there; the next sweep sends it again
