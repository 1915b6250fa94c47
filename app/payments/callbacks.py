"""STK callbacks: store the raw body first, acknowledge, then apply idempotently.

The raw row is committed before anything is decided (in the statement that also reads the payment), so
nothing Daraja sends is lost; applying writes the payment, its event and the callback's status in one
statement that requires the payment unchanged since it was read (optimistic: no lock held across round
trips), and a row still 'received' after a crash is applied again soon after the next start, and by the worker's
sweep (apply_pending).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from uuid import UUID

import psycopg
import psycopg.errors
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from app.metrics import CALLBACK_LAG, CALLBACKS, DARAJA_CONFIG_ERRORS
from app.mpesa.callback_parse import MalformedCallback, StkCallback, parse_stk_callback
from app.payments import repository
from app.payments.callback_decision import APPLIED, CONFLICT, CallbackDecision, decide
from app.payments.model import Payment

log = logging.getLogger("golive.callbacks")
KEPT_HEADERS = ("businessshortcode", "content-type", "user-agent", "x-forwarded-for")


async def receive(
    pool: AsyncConnectionPool,
    payment_id: UUID,
    *,
    source_ip: str | None,
    headers: Mapping[str, str],
    body: bytes,
    callback: StkCallback,
) -> repository.CallbackView:
    """Stores the raw callback (committed before anything is decided) and reads what deciding needs."""
    async with pool.connection() as conn:
        return await repository.store_callback(
            conn, payment_id, source_ip=source_ip, headers_json=_kept(headers), body=body, receipt=callback.receipt
        )


async def store_malformed(
    pool: AsyncConnectionPool,
    payment_id: UUID,
    *,
    source_ip: str | None,
    headers: Mapping[str, str],
    body: bytes,
    problem: str,
) -> int:
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "INSERT INTO stk_callbacks (payment_id, source_ip, headers, body, status, note, processed_at)"
            " VALUES (%s, %s, %s, %s, 'malformed', %s, now()) RETURNING id",
            (payment_id, source_ip, _kept(headers), body, problem[:500]),
        )
        row = await cursor.fetchone()
    assert row is not None
    CALLBACKS.labels("malformed").inc()
    return row[0]


def _kept(headers: Mapping[str, str]) -> str:
    # By key, as dict(request.headers) did: a repeated header keeps its first value.
    return json.dumps({name: headers[name] for name in headers if name in KEPT_HEADERS})


async def _finish(
    conn: AsyncConnection, callback_id: int, status: str, note: str, callback: StkCallback | None = None
) -> None:
    await conn.execute(
        "UPDATE stk_callbacks SET status = %s, note = %s, checkout_request_id = %s, result_code = %s,"
        " processed_at = now() WHERE id = %s",
        (status, note[:500], callback and callback.checkout_request_id, callback and callback.result_code, callback_id),
    )
    CALLBACKS.labels(status).inc()


ATTEMPTS = 3  # reads and decisions per callback when the payment keeps changing under it


async def apply(
    pool: AsyncConnectionPool,
    callback_id: int,
    payment_id: UUID,
    callback: StkCallback,
    seen: repository.CallbackView | None = None,
) -> str:
    """Decides from the payment as read (`seen`, or read now) and writes the change in one statement that requires
    the payment unchanged since; when it changed meanwhile, reads and decides again. No lock is held in between,
    and each write is one autocommitted statement (or, for the rare review cases, one short transaction)."""
    async with pool.connection() as conn:
        for _ in range(ATTEMPTS):
            view = seen or await repository.read_for_callback(conn, callback_id, payment_id, callback.receipt)
            seen = None
            outcome = await _apply_once(conn, view, payment_id, callback)
            if outcome is not None:
                break
        else:
            # Stays 'received': apply_pending takes it again later.
            log.warning("payment kept changing under a callback", extra={"payment_id": str(payment_id)})
            return "received"
    status, note, decision, payment = outcome
    if decision is not None and decision.config_error:
        DARAJA_CONFIG_ERRORS.inc()
        log.error(
            "M-Pesa says our configuration is wrong (2028: TransactionType or PartyB)",
            extra={"payment_id": str(payment_id)},
        )
    if status == APPLIED and payment is not None and payment.submitted_at is not None:
        CALLBACK_LAG.observe(max(0.0, (datetime.now(UTC) - payment.submitted_at).total_seconds()))
    if log.isEnabledFor(logging.INFO):
        log.info(
            "callback %s",
            status,
            extra={"payment_id": str(payment_id), "note": note, "result_code": callback.result_code},
        )
    return status


Outcome = tuple[str, str, CallbackDecision | None, Payment | None]


async def _apply_once(
    conn: AsyncConnection, view: repository.CallbackView, payment_id: UUID, callback: StkCallback
) -> Outcome | None:
    """The callback's status and note, or None when the payment changed since `view` was read."""
    payment, callback_id = view.payment, view.callback_id
    if payment is None:
        await _finish(conn, callback_id, "ignored", "no such payment", callback)
        return "ignored", "no such payment", None, None
    decision = decide(payment, callback)
    status, note = decision.status, decision.reason
    receipt = decision.fields.get("mpesa_receipt")
    if receipt is not None and view.receipt_taken:
        # The unique index still refuses a receipt taken concurrently: that callback stays 'received' for a retry.
        status, note = CONFLICT, f"receipt {receipt} already belongs to another payment"
        await _review(conn, callback_id, payment_id, status=status, note=note, callback=callback)
    elif decision.to_state is not None:
        changed = await _transition(conn, payment, decision, callback_id=callback_id, callback=callback)
        if changed is None:
            return None
        CALLBACKS.labels(status).inc()
    elif decision.needs_review:
        await _review(conn, callback_id, payment_id, status=status, note=note, callback=callback)
    else:
        await _finish(conn, callback_id, status, note, callback)
    return status, note, decision, payment


async def _review(
    conn: AsyncConnection, callback_id: int, payment_id: UUID, *, status: str, note: str, callback: StkCallback
) -> None:
    async with conn.transaction():
        await repository.mark_for_review(conn, payment_id, note, {"callback_id": callback_id})
        await _finish(conn, callback_id, status, note, callback)


async def _transition(
    conn: AsyncConnection, payment: Payment, decision: CallbackDecision, *, callback_id: int, callback: StkCallback
) -> Payment | None:
    assert decision.to_state is not None
    return await repository.transition_for_callback(
        conn,
        payment.id,
        seen_updated_at=payment.updated_at,
        callback_id=callback_id,
        callback_status=decision.status,
        callback_note=decision.reason[:500],
        callback_checkout=callback.checkout_request_id,
        callback_result=callback.result_code,
        allowed_from=decision.allowed_from,
        to_state=decision.to_state,
        reason=decision.reason,
        detail={"callback_id": callback_id},
        # A receipt recorded for a payment already paid (by STK query) keeps the time it was settled.
        **({} if decision.to_state == payment.state else {"settled_at": datetime.now(UTC)}),
        **decision.fields,
    )


# What the database refuses to store for a row, whatever the moment: the row is marked malformed, not retried.
UNSTORABLE = (psycopg.DataError, psycopg.errors.ProgramLimitExceeded, UnicodeEncodeError)


async def apply_pending(pool: AsyncConnectionPool, limit: int = 500) -> int:
    """Apply callbacks stored but never applied (the process died after acknowledging them), row by row: a row
    the database cannot take is marked malformed, any other failure leaves it 'received' for the next pass, and
    neither stops the rows after it. Returns how many rows it took up."""
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT id, payment_id, body FROM stk_callbacks WHERE status = 'received'"
            " AND received_at < now() - interval '5 seconds' ORDER BY id LIMIT %s",
            (limit,),
        )
        rows = await cursor.fetchall()
    for callback_id, payment_id, body in rows:
        await _apply_stored(pool, callback_id, payment_id, bytes(body))
    return len(rows)


async def _apply_stored(pool: AsyncConnectionPool, callback_id: int, payment_id: UUID, body: bytes) -> None:
    where = {"payment_id": str(payment_id), "callback_id": callback_id}
    try:
        try:
            parsed = parse_stk_callback(body)
        except MalformedCallback as exc:
            async with pool.connection() as conn:
                await _finish(conn, callback_id, "malformed", str(exc))
            return
        try:
            await apply(pool, callback_id, payment_id, parsed)
        except UNSTORABLE as exc:
            log.error("a stored callback the database cannot take is marked malformed", extra=where)
            async with pool.connection() as conn:
                await _finish(conn, callback_id, "malformed", f"the database refused it: {type(exc).__name__}")
    except Exception:
        log.exception("applying a stored callback failed; it stays stored for the next pass", extra=where)
