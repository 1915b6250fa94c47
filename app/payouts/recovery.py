"""A person's "retry" of a payout (POST /api/admin/recovery/{id}/retry). A payout keeps its nonce for as
long as that nonce might still be mined — a new nonce beside a live transaction could pay twice — so:

- payout_failed (its nonce is spent: reverted, no Transfer, or taken by another transaction) → back to
  payout_pending without a nonce: a new transaction at a new nonce;
- payout_pending → its wait reason cleared, tried at the next sweep;
- broadcast → the newest transaction sent again now (the tracking step replaces it if it stays stuck);
- confirming / completed → nothing to retry.
"""

from __future__ import annotations

import json
from uuid import UUID

from psycopg import AsyncConnection

from app.payments import repository as payments
from app.payments.model import BROADCAST, COMPLETED, CONFIRMING, PAYOUT_FAILED, PAYOUT_PENDING
from app.payouts import repository


class NothingToRetry(ValueError):
    """The payout is in a state a retry cannot help (the message says which)."""


async def retry_payout(conn: AsyncConnection, payment_id: UUID, *, actor: str, reason: str) -> str:
    """What was done, in words; raises NothingToRetry or LookupError (no such payout)."""
    async with conn.transaction():
        payout = await repository.payout(conn, payment_id, for_update=True)
        if payout is None:
            cursor = await conn.execute("SELECT state FROM payments WHERE id = %s", (payment_id,))
            row = await cursor.fetchone()
            if row is None:
                raise LookupError(f"no payment {payment_id}")
            raise NothingToRetry(f"the payment is {row[0]} and its payout has not started: the worker starts it")
        detail = {"actor": actor, "reason": reason}
        if payout.state in (CONFIRMING, COMPLETED):
            raise NothingToRetry(f"the payout is {payout.state}: nothing to retry")
        if payout.state == PAYOUT_FAILED:
            await conn.execute(
                "UPDATE payouts SET nonce = NULL, tx_hash = NULL, block_number = NULL, block_hash = NULL,"
                " waiting_for = NULL, send_failures = 0, updated_at = now() WHERE payment_id = %s",
                (payment_id,),
            )
            await payments.transition(
                conn,
                payment_id,
                allowed_from=(PAYOUT_FAILED,),
                to_state=PAYOUT_PENDING,
                reason=f"payout retried by {actor}: {reason}",
                detail=detail | {"previous_nonce": payout.nonce},
                needs_review=False,
            )
            return f"queued again at a new nonce (nonce {payout.nonce} is spent)"
        if payout.state == PAYOUT_PENDING:
            await repository.set_waiting(conn, payment_id, None)
            await _record(conn, payment_id, payout.state, f"payout retried by {actor}: {reason}", detail)
            return "tried again at the next sweep"
        if payout.state == BROADCAST:
            await conn.execute(
                "UPDATE payout_transactions SET sent_at = NULL WHERE tx_hash = ("
                " SELECT tx_hash FROM payout_transactions WHERE payment_id = %s AND nonce = %s"
                " ORDER BY created_at DESC, tx_hash DESC LIMIT 1)",
                (payment_id, payout.nonce),
            )
            await conn.execute(
                "UPDATE payouts SET send_failures = 0, updated_at = now() WHERE payment_id = %s", (payment_id,)
            )
            await _record(conn, payment_id, payout.state, f"payout retried by {actor}: {reason}", detail)
            return f"transaction at nonce {payout.nonce} sent again at the next sweep"
        raise NothingToRetry(f"the payment is {payout.state}")


async def _record(conn: AsyncConnection, payment_id: UUID, state: str, reason: str, detail: dict[str, str]) -> None:
    """The retry as an event of the payment (its state unchanged), which no longer needs review."""
    await conn.execute(
        """WITH p AS (UPDATE payments SET needs_review = false, updated_at = now() WHERE id = %s RETURNING id)
           INSERT INTO payment_events (payment_id, from_state, to_state, reason, detail)
           SELECT id, %s, %s, %s, %s FROM p""",
        (payment_id, state, state, reason, json.dumps(detail)),
    )
