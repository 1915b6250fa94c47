"""STK callbacks: store the raw body first, acknowledge, then apply idempotently.

The raw row is committed before anything can fail, so nothing Daraja sends is lost; applying runs in
its own transaction with the payment row locked, and a row still 'received' after a crash is applied
again at the next start (apply_pending).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from uuid import UUID

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from app.metrics import CALLBACK_LAG, CALLBACKS, DARAJA_CONFIG_ERRORS
from app.mpesa.callback_parse import MalformedCallback, StkCallback, parse_stk_callback
from app.payments import repository
from app.payments.callback_decision import APPLIED, CONFLICT, CallbackDecision, decide

log = logging.getLogger("golive.callbacks")
KEPT_HEADERS = ("businessshortcode", "content-type", "user-agent", "x-forwarded-for")


async def store_raw(
    pool: AsyncConnectionPool, payment_id: UUID, source_ip: str | None, headers: Mapping[str, str], body: bytes
) -> int:
    # By key, as dict(request.headers) did: a repeated header keeps its first value.
    kept = {name: headers[name] for name in headers if name in KEPT_HEADERS}
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "INSERT INTO stk_callbacks (payment_id, source_ip, headers, body) VALUES (%s, %s, %s, %s) RETURNING id",
            (payment_id, source_ip, json.dumps(kept), body),
        )
        row = await cursor.fetchone()
    assert row is not None
    return row[0]


async def _finish(
    conn: AsyncConnection, callback_id: int, status: str, note: str, callback: StkCallback | None = None
) -> None:
    await conn.execute(
        "UPDATE stk_callbacks SET status = %s, note = %s, checkout_request_id = %s, result_code = %s,"
        " processed_at = now() WHERE id = %s",
        (status, note[:500], callback and callback.checkout_request_id, callback and callback.result_code, callback_id),
    )
    CALLBACKS.labels(status).inc()


async def mark_malformed(pool: AsyncConnectionPool, callback_id: int, problem: str) -> None:
    async with pool.connection() as conn:
        await _finish(conn, callback_id, "malformed", problem)


async def apply(pool: AsyncConnectionPool, callback_id: int, payment_id: UUID, callback: StkCallback) -> str:
    # One connection and a pipeline: BEGIN, the locking SELECT and the receipt lookup go out together, then the
    # change (transition and stk_callbacks row in one statement, or the separate statements) with the COMMIT.
    pending: repository.PendingTransition | None = None
    async with pool.connection() as conn:
        async with conn.pipeline(), conn.transaction():
            payment, receipt_used = await repository.lock_for_callback(conn, payment_id, callback.receipt)
            if payment is None:
                await _finish(conn, callback_id, "ignored", "no such payment", callback)
                return "ignored"
            decision = decide(payment, callback)
            status, note = decision.status, decision.reason
            receipt = decision.fields.get("mpesa_receipt")
            if receipt is not None and receipt_used:
                # Checked first rather than caught (a savepoint costs two round trips per callback); the unique
                # index still refuses a concurrent duplicate, and that callback stays 'received' for a retry.
                status, note = CONFLICT, f"receipt {receipt} already belongs to another payment"
                await repository.mark_for_review(conn, payment_id, note, {"callback_id": callback_id})
            elif decision.to_state is not None:
                pending = await _transition(
                    conn, payment_id, decision, callback_id=callback_id, status=status, note=note, callback=callback
                )
            elif decision.needs_review:
                await repository.mark_for_review(conn, payment_id, note, {"callback_id": callback_id})
            if pending is None:
                await _finish(conn, callback_id, status, note, callback)
        if pending is not None:
            await pending.result()
            CALLBACKS.labels(status).inc()
    if decision.config_error:
        DARAJA_CONFIG_ERRORS.inc()
        log.error(
            "M-Pesa says our configuration is wrong (2028: TransactionType or PartyB)",
            extra={"payment_id": str(payment_id)},
        )
    if status == APPLIED and payment.submitted_at is not None:
        CALLBACK_LAG.observe(max(0.0, (datetime.now(UTC) - payment.submitted_at).total_seconds()))
    if log.isEnabledFor(logging.INFO):
        log.info(
            "callback %s",
            status,
            extra={"payment_id": str(payment_id), "note": note, "result_code": callback.result_code},
        )
    return status


async def _transition(
    conn: AsyncConnection,
    payment_id: UUID,
    decision: CallbackDecision,
    *,
    callback_id: int,
    status: str,
    note: str,
    callback: StkCallback,
) -> repository.PendingTransition:
    assert decision.to_state is not None
    return await repository.transition_for_callback(
        conn,
        payment_id,
        callback_id=callback_id,
        callback_status=status,
        callback_note=note[:500],
        callback_checkout=callback.checkout_request_id,
        callback_result=callback.result_code,
        allowed_from=decision.allowed_from,
        to_state=decision.to_state,
        reason=decision.reason,
        detail={"callback_id": callback_id},
        settled_at=datetime.now(UTC),
        **decision.fields,
    )


async def apply_pending(pool: AsyncConnectionPool, limit: int = 500) -> int:
    """Apply callbacks stored but never applied (the process died after acknowledging them)."""
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT id, payment_id, body FROM stk_callbacks WHERE status = 'received'"
            " AND received_at < now() - interval '5 seconds' ORDER BY id LIMIT %s",
            (limit,),
        )
        rows = await cursor.fetchall()
    for callback_id, payment_id, body in rows:
        try:
            parsed = parse_stk_callback(bytes(body))
        except MalformedCallback as exc:
            await mark_malformed(pool, callback_id, str(exc))
            continue
        await apply(pool, callback_id, payment_id, parsed)
    return len(rows)
