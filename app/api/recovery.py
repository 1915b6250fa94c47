"""Manual recovery (x-api-key): stuck payments, retry one, resolve one with a written reason, statistics."""

from __future__ import annotations

import logging
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query

from app.api.deps import AdminDep, ServicesDep
from app.api.recovery_schemas import ResolveRequest, RetryRequest
from app.payments.model import BROADCAST, CONFIRMING, PAID, PAYOUT_FAILED, PAYOUT_PENDING
from app.payouts.recovery import retry_payout
from app.recovery import notes, stk_query
from app.recovery.guard import unfenced
from app.recovery.resolve import ResolveRefused, resolve
from app.recovery.stats import stats
from app.recovery.stuck import REASONS, list_stuck

router = APIRouter(tags=["recovery"])
log = logging.getLogger("golive.recovery")
PAYOUT_STATES = (PAID, PAYOUT_PENDING, BROADCAST, CONFIRMING, PAYOUT_FAILED)
NOTHING_TO_RETRY = {
    "initiated": "the push's answer was never recorded, so there is no CheckoutRequestID to ask about; it goes to "
    "review by itself (GOLIVE_RECOVERY_INITIATED_AFTER_SECONDS), or resolve it with a reason",
    "failed": "a failed payment is final; the payer starts a new payment",
    "completed": "the payout is complete",
}


@router.get("/api/admin/recovery/stuck")
async def stuck(
    svc: ServicesDep,
    _admin: AdminDep,
    reason: Annotated[str | None, Query(description=f"one of {', '.join(REASONS)}")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Stuck payments, oldest first, each with its state, reason, age and what recovery knows."""
    if reason is not None and reason not in REASONS:
        raise HTTPException(422, f"reason: must be one of {', '.join(REASONS)}")
    async with svc.pool.connection() as conn:
        items = await list_stuck(conn, svc.settings, reason=reason, limit=limit)
    return {"count": len(items), "items": [item.to_json() for item in items]}


@router.get("/api/admin/recovery/stats")
async def recovery_stats(svc: ServicesDep, _admin: AdminDep) -> dict[str, Any]:
    async with svc.pool.connection() as conn:
        return await stats(conn, svc.settings)


@router.post("/api/admin/recovery/{payment_id}/retry")
async def retry(
    payment_id: UUID, svc: ServicesDep, admin: AdminDep, body: RetryRequest | None = None
) -> dict[str, Any]:
    """submitted / unknown: ask Daraja now (STK query) and settle by its answer; payout states: retry the payout."""
    reason = (body or RetryRequest()).reason
    async with svc.pool.connection() as conn:
        item = await stk_query.load(conn, payment_id)
    if item is None:
        raise HTTPException(404, "no such payment")
    state = item.payment.state
    if state in stk_query.QUERYABLE:
        return await _query_now(svc, item, admin, reason)
    if state in PAYOUT_STATES:
        return await _retry_payout(svc, payment_id, admin, reason)
    hint = NOTHING_TO_RETRY.get(state)
    raise HTTPException(409, f"nothing to retry: the payment is {state}" + (f"; {hint}" if hint else ""))


async def _query_now(svc: ServicesDep, item: stk_query.Queryable, admin: str, reason: str) -> dict[str, Any]:
    payment = item.payment
    if payment.checkout_request_id is None:
        raise HTTPException(
            409,
            "no CheckoutRequestID to ask Daraja about (the push's answer was lost); resolve it with a reason",
        )
    result = await stk_query.query_and_settle(
        svc.pool, svc.daraja, svc.settings, item, guard=unfenced, actor=admin, escalate=False
    )
    if result.answer in ("pending", "error", "unchanged"):
        async with svc.pool.connection() as conn:
            await notes.record(
                conn, payment.id, f"STK query asked by {admin} ({reason}): {result.answer}",
                {"source": "manual", "actor": admin, "answer": result.answer, "detail": result.detail[:300]},
            )  # fmt: skip
    log.info("manual STK query", extra={"payment_id": str(payment.id), "by": admin, "answer": result.answer})
    if result.answer == "error":
        raise HTTPException(502, f"Daraja did not answer the query: {result.detail}")
    return {"payment_id": str(payment.id), "action": "stk_query", "answer": result.answer, "state": result.state,
            "detail": result.detail}  # fmt: skip


async def _retry_payout(svc: ServicesDep, payment_id: UUID, admin: str, reason: str) -> dict[str, Any]:
    try:
        async with svc.pool.connection() as conn:
            outcome = await retry_payout(conn, payment_id, actor=admin, reason=reason)
    except LookupError as exc:
        raise HTTPException(404, str(exc) or "no such payout") from None
    except ValueError as exc:
        raise HTTPException(409, str(exc) or "the payout cannot be retried now") from None
    log.info("manual payout retry", extra={"payment_id": str(payment_id), "by": admin, "outcome": outcome})
    return {"payment_id": str(payment_id), "action": "payout_retry", "outcome": outcome}


@router.post("/api/admin/recovery/{payment_id}/resolve")
async def resolve_payment(payment_id: UUID, body: ResolveRequest, svc: ServicesDep, admin: AdminDep) -> dict[str, Any]:
    """Settle or clear a payment by hand; the reason is recorded with your key's name."""
    try:
        async with svc.pool.connection() as conn:
            done = await resolve(
                conn, svc.settings, payment_id, outcome=body.outcome, reason=body.reason, actor=admin,
                receipt=body.mpesa_receipt,
            )  # fmt: skip
    except ResolveRefused as exc:
        raise HTTPException(exc.status, exc.message) from None
    context = {"payment_id": str(payment_id), "by": admin, "outcome": body.outcome, "state": done.state}
    log.info("payment resolved by hand", extra=context)
    return {"payment_id": str(payment_id), "from_state": done.from_state, "state": done.state,
            "outcome": done.outcome, "resolved_by": done.actor, "reason": done.reason,
            "cases_closed": done.cases_closed}  # fmt: skip
