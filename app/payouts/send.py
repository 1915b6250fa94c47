"""Step 2: nonce, signature, stored, then sent. A payout waits (and says why) while the treasury lacks USDT or
gas or the fees are above the cap; nothing is dropped.

The signed transaction and its hash are committed with the nonce and the payment's move to `broadcast`
before a byte goes to the node: after a crash the same bytes are sent again (a node answers "already known"
or mines it once), and the tracking step checks every hash ever signed for the payout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from psycopg import AsyncConnection

from app.chain.rpc import RpcError, RpcUnavailable
from app.payments import repository as payments_repository
from app.payments.model import BROADCAST, PAYOUT_PENDING
from app.payouts import chain_reads, fees, repository
from app.payouts.context import PayoutContext
from app.payouts.metrics import PAYOUT_STEPS, PAYOUTS_WAITING, TREASURY_BALANCE, TREASURY_SHORT
from app.payouts.signing import SignedPayout, sign_transfer

log = logging.getLogger("golive.payouts")
GWEI = 10**9


@dataclass
class Budget:
    """What this sweep may still spend: the treasury's balances less what it already promised."""

    usdt_free: int
    native_free: int
    base_fee: int
    tip: int
    chain_count: int
    short: dict[str, bool] = field(default_factory=lambda: {"usdt": False, "gas": False})


@dataclass(frozen=True)
class Plan:
    gas: int
    fees: fees.Fees


async def send_payouts(ctx: PayoutContext, limit: int = 100) -> int:
    """Sends what was stored but not sent, then starts the payouts waiting in payout_pending."""
    handled = await resend_unsent(ctx, limit)
    async with ctx.pool.connection() as conn:
        pending = await repository.payouts_in(conn, PAYOUT_PENDING, limit, unsent_only=True)
    if not pending:
        PAYOUTS_WAITING.set(0)
        return handled
    budget = await _budget(ctx)
    waiting = 0
    for payout in pending:
        plan = await _plan(ctx, payout, budget)
        if isinstance(plan, str):
            waiting += 1
            async with ctx.pool.connection() as conn:
                await repository.set_waiting(conn, payout.payment_id, plan)
            continue
        async with ctx.pool.connection() as conn:
            signed = await _allocate_sign_store(ctx, conn, payout, plan, budget.chain_count)
        if signed is None:
            continue
        budget.usdt_free -= payout.amount
        budget.native_free -= plan.gas * plan.fees.max_fee_per_gas
        await send_one(ctx, signed.tx_hash, signed.raw)
        handled += 1
    for asset, is_short in budget.short.items():
        TREASURY_SHORT.labels(asset).set(1 if is_short else 0)
    PAYOUTS_WAITING.set(waiting)
    if waiting:
        log.warning("payouts waiting", extra={"waiting": waiting, "short": budget.short})
    return handled


async def _budget(ctx: PayoutContext) -> Budget:
    balance = await chain_reads.treasury(ctx.rpc, ctx.token, ctx.sender)
    TREASURY_BALANCE.labels("usdt").set(balance.usdt_units / 10 ** await ctx.decimals())
    TREASURY_BALANCE.labels("native").set(balance.native_wei / 10**18)
    base, tip = await chain_reads.fee_inputs(ctx.rpc)
    return Budget(
        usdt_free=balance.usdt_units - await _in_flight_units(ctx),
        native_free=balance.native_wei,
        base_fee=base,
        tip=tip,
        chain_count=await chain_reads.confirmed_nonce(ctx.rpc, ctx.sender),
    )


async def _plan(ctx: PayoutContext, payout: repository.Payout, budget: Budget) -> Plan | str:
    """Gas and fees for the payout, or why it must wait."""
    if payout.amount > budget.usdt_free:
        budget.short["usdt"] = True
        return f"treasury USDT: {budget.usdt_free} units free, {payout.amount} needed"
    try:
        gas = await chain_reads.transfer_gas(
            ctx.rpc, token=ctx.token, sender=ctx.sender, to=payout.to_address, amount=payout.amount
        )
        chosen = fees.initial(budget.base_fee, budget.tip, int(ctx.settings.payout_max_fee_gwei * GWEI))
    except RpcError as exc:
        return f"the transfer would revert: {chain_reads.reverted_reason(exc)}"
    except fees.FeeCapExceeded as exc:
        return str(exc)
    cost = gas * chosen.max_fee_per_gas
    if cost > budget.native_free:
        budget.short["gas"] = True
        return f"treasury gas: {budget.native_free} wei free, {cost} needed"
    return Plan(gas, chosen)


async def _in_flight_units(ctx: PayoutContext) -> int:
    """USDT promised to transactions sent but not mined yet: not in the treasury's balance for long."""
    async with ctx.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT coalesce(sum(o.amount_units), 0) FROM payouts o JOIN payments p ON p.id = o.payment_id"
            " WHERE p.state = 'broadcast'"
        )
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def sign_and_store(
    ctx: PayoutContext, conn: AsyncConnection, payout: repository.Payout, *, nonce: int, gas: int, fees: fees.Fees
) -> SignedPayout:
    """The payout's transfer signed at `nonce` and stored (raw, with its hash) in the caller's transaction."""
    signed = sign_transfer(
        ctx.account,
        chain_id=ctx.chain_id,
        token=ctx.token,
        to=payout.to_address,
        amount=payout.amount,
        nonce=nonce,
        gas=gas,
        fees=fees,
    )
    await repository.store_transaction(
        conn, payout.payment_id, tx_hash=signed.tx_hash, nonce=nonce, fees=fees, gas=gas, raw=signed.raw
    )
    return signed


async def _allocate_sign_store(
    ctx: PayoutContext, conn: AsyncConnection, payout: repository.Payout, plan: Plan, chain_count: int
) -> SignedPayout | None:
    async with conn.transaction():
        locked = await repository.payout(conn, payout.payment_id, for_update=True)
        if locked is None or locked.state != PAYOUT_PENDING or locked.nonce is not None:
            return None  # another sweep got there first
        nonce = await repository.next_nonce(conn, ctx.chain_id, ctx.sender, chain_count)
        signed = await sign_and_store(ctx, conn, payout, nonce=nonce, gas=plan.gas, fees=plan.fees)
        await conn.execute(
            "UPDATE payouts SET nonce = %s, waiting_for = NULL, updated_at = now() WHERE payment_id = %s",
            (nonce, payout.payment_id),
        )
        await repository.move(
            conn,
            payout.payment_id,
            allowed_from=(PAYOUT_PENDING,),
            to_state=BROADCAST,
            reason="payout signed and stored",
            detail={"nonce": nonce, "tx_hash": signed.tx_hash},
        )
    PAYOUT_STEPS.labels("signed").inc()
    return signed


async def resend_unsent(ctx: PayoutContext, limit: int) -> int:
    async with ctx.pool.connection() as conn:
        unsent = await repository.unsent(conn, limit)
    for tx in unsent:
        await send_one(ctx, tx.tx_hash, tx.raw)
    return len(unsent)


# Answers that mean the node has (or had) this transaction, or that its nonce is spent: sending again is moot.
SENT_ANSWERS = ("already known", "known transaction", "nonce too low")


async def send_one(ctx: PayoutContext, tx_hash: str, raw: bytes) -> bool:
    """True when the node took it (or already had it)."""
    try:
        await ctx.rpc.call("eth_sendRawTransaction", "0x" + raw.hex())
    except RpcUnavailable as exc:
        await _failed(ctx, tx_hash, str(exc))
        return False
    except RpcError as exc:
        if any(answer in exc.message.lower() for answer in SENT_ANSWERS):
            async with ctx.pool.connection() as conn:
                await repository.mark_sent(conn, tx_hash, exc.message[:500])
            return True
        await _failed(ctx, tx_hash, exc.message)
        return False
    async with ctx.pool.connection() as conn:
        await repository.mark_sent(conn, tx_hash)
    PAYOUT_STEPS.labels("sent").inc()
    return True


async def _failed(ctx: PayoutContext, tx_hash: str, error: str) -> None:
    """The transaction stays stored and unsent: the next sweep sends it again. Past the limit a person is asked
    to look, but the payout keeps its nonce and its state: a send that timed out may still be mined, and a new
    nonce could then pay twice."""
    PAYOUT_STEPS.labels("send_failed").inc()
    async with ctx.pool.connection() as conn, conn.transaction():
        failures = await repository.record_send_error(conn, tx_hash, error)
        if failures == ctx.settings.payout_max_send_failures:
            cursor = await conn.execute("SELECT payment_id FROM payout_transactions WHERE tx_hash = %s", (tx_hash,))
            row = await cursor.fetchone()
            if row is not None:
                await payments_repository.mark_for_review(
                    conn, row[0], f"payout sending failed {failures} times in a row: {error[:200]}", {"tx": tx_hash}
                )
    log.warning("payout send failed; it is sent again at the next sweep", extra={"tx_hash": tx_hash, "error": error})
