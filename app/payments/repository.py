"""SQL for payments. Each change of state writes the payment and its payment_events row in one
statement, so no transition is ever unrecorded (and it costs one round trip)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, AsyncCursor, sql
from psycopg.rows import class_row

from app.metrics import PAYMENT_TRANSITIONS
from app.payments.model import INITIATED, PAYMENT_COLUMNS, Package, Payment

# Columns a transition may set; anything else is a programming error.
SETTABLE = {
    "needs_review",
    "merchant_request_id",
    "checkout_request_id",
    "mpesa_receipt",
    "result_code",
    "result_desc",
    "failure_reason",
    "retryable",
    "submitted_at",
    "settled_at",
}


async def find_by_id(conn: AsyncConnection, payment_id: UUID, *, for_update: bool = False) -> Payment | None:
    lock = " FOR UPDATE" if for_update else ""
    async with conn.cursor(row_factory=class_row(Payment)) as cur:
        await cur.execute(f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = %s{lock}", (payment_id,))
        return await cur.fetchone()


async def find_by_idempotency_key(conn: AsyncConnection, key: str) -> Payment | None:
    async with conn.cursor(row_factory=class_row(Payment)) as cur:
        await cur.execute(f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE idempotency_key = %s", (key,))
        return await cur.fetchone()


async def insert_initiated(
    conn: AsyncConnection,
    *,
    payment_id: UUID,
    idempotency_key: str,
    fingerprint: str,
    msisdn: str,
    package: Package,
    wallet: str,
) -> Payment | None:
    """The new payment, or None when the Idempotency-Key is already taken."""
    query = f"""
        WITH p AS (
            INSERT INTO payments (id, idempotency_key, request_fingerprint, msisdn, package_id, amount_kes,
                                  wallet_address, state)
            VALUES (%(id)s, %(key)s, %(fp)s, %(msisdn)s, %(package)s, %(amount)s, %(wallet)s, 'initiated')
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING {PAYMENT_COLUMNS}
        ), e AS (
            INSERT INTO payment_events (payment_id, from_state, to_state, reason)
            SELECT id, NULL, 'initiated', 'payment requested' FROM p
        )
        SELECT * FROM p"""
    params = {
        "id": payment_id,
        "key": idempotency_key,
        "fp": fingerprint,
        "msisdn": msisdn,
        "package": package.id,
        "amount": package.price_kes,
        "wallet": wallet,
    }
    async with conn.cursor(row_factory=class_row(Payment)) as cur:
        await cur.execute(query, params)
        payment = await cur.fetchone()
    if payment is not None:
        PAYMENT_TRANSITIONS.labels(INITIATED, "").inc()
    return payment


async def transition(
    conn: AsyncConnection,
    payment_id: UUID,
    *,
    allowed_from: tuple[str, ...],
    to_state: str,
    reason: str,
    detail: dict[str, Any] | None = None,
    **fields: Any,
) -> Payment | None:
    """Move a payment to `to_state` if it is in one of `allowed_from`; None when it was not."""
    params = _transition_params(
        payment_id, allowed_from=allowed_from, to_state=to_state, reason=reason, detail=detail, fields=fields
    )
    async with conn.cursor(row_factory=class_row(Payment)) as cur:
        await cur.execute(_transition_query(tuple(sorted(fields))), params)
        payment = await cur.fetchone()
    if payment is not None:
        _count_transition(to_state, fields)
    return payment


def _transition_params(
    payment_id: UUID,
    *,
    allowed_from: tuple[str, ...],
    to_state: str,
    reason: str,
    detail: dict[str, Any] | None,
    fields: dict[str, Any],
) -> dict[str, Any]:
    unknown = set(fields) - SETTABLE
    if unknown:
        raise ValueError(f"not settable by a transition: {sorted(unknown)}")
    return {
        "id": payment_id,
        "allowed": list(allowed_from),
        "to_state": to_state,
        "reason": reason,
        "detail": json.dumps(detail) if detail is not None else None,
        **fields,
    }


def _count_transition(to_state: str, fields: dict[str, Any]) -> None:
    code = fields.get("result_code")
    PAYMENT_TRANSITIONS.labels(to_state, "" if code is None else str(code)).inc()


# The stk_callbacks row marked processed in the transition's own statement (transition_for_callback).
_FINISH_CALLBACK = """, c AS (
            UPDATE stk_callbacks SET status = %(callback_status)s, note = %(callback_note)s,
                checkout_request_id = %(callback_checkout)s, result_code = %(callback_result)s, processed_at = now()
            WHERE id = %(callback_id)s
        )"""


@lru_cache(maxsize=64)
def _transition_query(fields: tuple[str, ...], finish_callback: bool = False) -> sql.Composed:
    """Built once per set of columns (a hot path: every payment makes two transitions)."""
    assignments = [sql.SQL("state = %(to_state)s"), sql.SQL("updated_at = now()")]
    assignments += [sql.SQL("{} = %({})s").format(sql.Identifier(name), sql.SQL(name)) for name in fields]
    return sql.SQL("""
        WITH old AS (SELECT state FROM payments WHERE id = %(id)s),
        p AS (
            UPDATE payments SET {assignments}
            WHERE id = %(id)s AND state = ANY(%(allowed)s)
            RETURNING {columns}
        ), e AS (
            INSERT INTO payment_events (payment_id, from_state, to_state, reason, detail)
            SELECT p.id, old.state, %(to_state)s, %(reason)s, %(detail)s FROM p, old
        ){finish}
        SELECT * FROM p""").format(
        assignments=sql.SQL(", ").join(assignments),
        columns=sql.SQL(PAYMENT_COLUMNS),
        finish=sql.SQL(_FINISH_CALLBACK if finish_callback else ""),
    )


@lru_cache(maxsize=64)
def _callback_transition_query(fields: tuple[str, ...]) -> str:
    """Rendered once: psycopg would render a Composed query again at every execute."""
    return _transition_query(fields, True).as_string()


_LOCK_PAYMENT = f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = %s FOR UPDATE"
_RECEIPT_TAKEN = "SELECT 1 FROM payments WHERE mpesa_receipt = %s AND id <> %s"


async def lock_for_callback(
    conn: AsyncConnection, payment_id: UUID, receipt: str | None
) -> tuple[Payment | None, bool]:
    """The payment locked FOR UPDATE, and whether `receipt` already belongs to another payment.

    Both statements are sent before either answer is read (one round trip in pipeline mode); the server runs
    them in order, so the receipt is looked up with the payment already locked.
    """
    async with conn.cursor(row_factory=class_row(Payment)) as cur:
        await cur.execute(_LOCK_PAYMENT, (payment_id,))
        taken = None
        if receipt is not None:
            taken = await conn.execute(_RECEIPT_TAKEN, (receipt, payment_id))
        payment = await cur.fetchone()
    return payment, taken is not None and await taken.fetchone() is not None


class PendingTransition:
    """A transition sent but not read yet: in pipeline mode its answer comes with the COMMIT's."""

    def __init__(self, cursor: AsyncCursor[Payment], to_state: str, fields: dict[str, Any]) -> None:
        self._cursor, self._to_state, self._fields = cursor, to_state, fields

    async def result(self) -> Payment | None:
        async with self._cursor as cur:
            payment = await cur.fetchone()
        if payment is not None:
            _count_transition(self._to_state, self._fields)
        return payment


async def transition_for_callback(
    conn: AsyncConnection,
    payment_id: UUID,
    *,
    callback_id: int,
    callback_status: str,
    callback_note: str,
    callback_checkout: str | None,
    callback_result: int | None,
    allowed_from: tuple[str, ...],
    to_state: str,
    reason: str,
    detail: dict[str, Any] | None = None,
    **fields: Any,
) -> PendingTransition:
    """`transition` plus the stk_callbacks row marked processed, in one statement (a CTE).

    Sent without waiting for the answer: call `result()` once the pipeline has synced (after the COMMIT).
    """
    params = _transition_params(
        payment_id, allowed_from=allowed_from, to_state=to_state, reason=reason, detail=detail, fields=fields
    )
    params |= {
        "callback_id": callback_id,
        "callback_status": callback_status,
        "callback_note": callback_note,
        "callback_checkout": callback_checkout,
        "callback_result": callback_result,
    }
    cur = conn.cursor(row_factory=class_row(Payment))
    await cur.execute(_callback_transition_query(tuple(sorted(fields))), params)
    return PendingTransition(cur, to_state, fields)


async def mark_for_review(conn: AsyncConnection, payment_id: UUID, reason: str, detail: dict[str, Any]) -> None:
    """Flag a payment for a person without changing its state (recorded as an event all the same)."""
    await conn.execute(
        """WITH p AS (UPDATE payments SET needs_review = true, updated_at = now() WHERE id = %s RETURNING id, state)
           INSERT INTO payment_events (payment_id, from_state, to_state, reason, detail)
           SELECT id, state, state, %s, %s FROM p""",
        (payment_id, reason, json.dumps(detail)),
    )


async def events(conn: AsyncConnection, payment_id: UUID) -> list[dict[str, Any]]:
    cursor = await conn.execute(
        "SELECT from_state, to_state, reason, at FROM payment_events WHERE payment_id = %s ORDER BY id",
        (payment_id,),
    )
    return [
        {"from": row[0], "to": row[1], "reason": row[2], "at": row[3].isoformat()} for row in await cursor.fetchall()
    ]


async def active_packages(conn: AsyncConnection) -> list[Package]:
    async with conn.cursor(row_factory=class_row(Package)) as cur:
        await cur.execute(
            "SELECT id, name, price_kes, usdt_amount::text AS usdt_amount FROM packages WHERE active ORDER BY price_kes"
        )
        return await cur.fetchall()
