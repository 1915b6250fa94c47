"""A person resolves a payment by hand, with a written reason: recorded as a payment event and a closed recovery
case (actor = the admin key's name), in one transaction that locks the payment row.

Outcomes:
  paid      the money arrived (checked outside the system): from initiated, submitted, unknown or failed
  failed    it did not: from initiated, submitted or unknown — never for a payment that was paid
  reviewed  a flagged payment was looked at and is fine as it is (clears needs_review; also closes a payout_failed
            for the stuck list): not for open states, which need paid or failed
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation

from app.payments import repository
from app.payments.model import FAILED, INITIATED, PAID, PAID_STATES, PAYOUT_FAILED, SUBMITTED, UNKNOWN
from app.recovery import cases
from app.recovery.stuck import reason_for
from app.settings import Settings

Outcome = Literal["paid", "failed", "reviewed"]
OPEN = (INITIATED, SUBMITTED, UNKNOWN)


class ResolveRefused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Resolved:
    payment_id: UUID
    from_state: str
    state: str
    outcome: str
    actor: str
    reason: str
    cases_closed: list[str]


def _target(state: str, needs_review: bool, outcome: Outcome) -> tuple[str, dict[str, object]]:
    """The state a resolution leads to and the columns it sets, or ResolveRefused (409) saying why not."""
    now = datetime.now(UTC)
    if outcome == "paid":
        if state in PAID_STATES:
            raise ResolveRefused(409, f"the payment is already {state}")
        return PAID, {"needs_review": False, "retryable": False, "settled_at": now}
    if outcome == "failed":
        if state in PAID_STATES:
            raise ResolveRefused(409, f"the payment is {state}: a paid payment is never marked failed")
        if state == FAILED:
            raise ResolveRefused(409, "the payment is already failed")
        return FAILED, {"needs_review": False, "retryable": False, "settled_at": now}
    if state in OPEN:
        raise ResolveRefused(409, f"the payment is {state}: resolve it as paid or failed")
    if not needs_review and state != PAYOUT_FAILED:
        raise ResolveRefused(409, f"the payment is {state} and not flagged for review: nothing to resolve")
    return state, {"needs_review": False}


async def resolve(
    conn: AsyncConnection,
    settings: Settings,
    payment_id: UUID,
    *,
    outcome: Outcome,
    reason: str,
    actor: str,
    receipt: str | None = None,
) -> Resolved:
    async with conn.transaction():
        row = await (
            await conn.execute(
                "SELECT state, needs_review, updated_at FROM payments WHERE id = %s FOR UPDATE", (payment_id,)
            )
        ).fetchone()
        if row is None:
            raise ResolveRefused(404, "no such payment")
        state, needs_review, updated_at = row
        kind = await reason_for(conn, settings, payment_id) or "manual"
        to_state, fields = _target(state, needs_review, outcome)
        if receipt is not None:
            if outcome != "paid":
                raise ResolveRefused(422, "mpesa_receipt: only with outcome paid")
            fields["mpesa_receipt"] = receipt
        event_reason = f"resolved by {actor} as {outcome}: {reason}"
        try:
            async with conn.transaction():  # a savepoint: a receipt taken by another payment is a clean 409
                moved = await repository.transition(
                    conn, payment_id, allowed_from=(state,), to_state=to_state, reason=event_reason[:1000],
                    detail={"source": "manual", "actor": actor, "outcome": outcome, "reason": reason}, **fields,
                )  # fmt: skip
        except UniqueViolation:
            raise ResolveRefused(409, "mpesa_receipt: already recorded for another payment") from None
        assert moved is not None  # the row is locked and its state was just read
        closed = await cases.close_or_record(
            conn, payment_id, kind=kind, opened_at=updated_at, resolution=cases.RESOLVED, state=to_state,
            actor=actor, reason=reason,
        )  # fmt: skip
    return Resolved(payment_id, state, to_state, outcome, actor, reason, closed)
