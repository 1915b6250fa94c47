"""SQL for payments. Each change of state writes the payment and its payment_events row in one
statement, so no transition is ever unrecorded (and it costs one round trip)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql
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
# Only when the payment's row changed (p): a data-modifying CTE runs whether or not the UPDATE matched, and a
# callback marked processed while its payment was not would never be applied again (apply_pending skips it).
_FINISH_CALLBACK = """, c AS (
            UPDATE stk_callbacks SET status = %(callback_status)s, note = %(callback_note)s,
                checkout_request_id = %(callback_checkout)s, result_code = %(callback_result)s, processed_at = now()
            WHERE id = %(callback_id)s AND EXISTS (SELECT 1 FROM p)
        )"""


@lru_cache(maxsize=64)
def _transition_query(fields: tuple[str, ...], finish_callback: bool = False) -> sql.Composed:
    """Built once per set of columns (a hot path: every payment makes two transitions). A callback's transition
    also requires the row unchanged since the callback read it (optimistic: no lock held between the two)."""
    assignments = [sql.SQL("state = %(to_state)s"), sql.SQL("updated_at = now()")]
    assignments += [sql.SQL("{} = %({})s").format(sql.Identifier(name), sql.SQL(name)) for name in fields]
    return sql.SQL("""
        WITH old AS (SELECT state FROM payments WHERE id = %(id)s),
        p AS (
            UPDATE payments SET {assignments}
            WHERE id = %(id)s AND state = ANY(%(allowed)s){unchanged}
            RETURNING {columns}
        ), e AS (
            INSERT INTO payment_events (payment_id, from_state, to_state, reason, detail)
            SELECT p.id, old.state, %(to_state)s, %(reason)s, %(detail)s FROM p, old
        ){finish}
        SELECT * FROM p""").format(
        assignments=sql.SQL(", ").join(assignments),
        columns=sql.SQL(PAYMENT_COLUMNS),
        unchanged=sql.SQL(" AND updated_at = %(seen_updated_at)s" if finish_callback else ""),
        finish=sql.SQL(_FINISH_CALLBACK if finish_callback else ""),
    )


@lru_cache(maxsize=64)
def _callback_transition_query(fields: tuple[str, ...]) -> str:
    """Rendered once: psycopg would render a Composed query again at every execute."""
    return _transition_query(fields, True).as_string()


_PAYMENT_NAMES = tuple(name.strip() for name in PAYMENT_COLUMNS.split(","))
_PAYMENT_SELECT = ", ".join(f"p.{name}" for name in _PAYMENT_NAMES)
_RECEIPT_TAKEN = (
    "EXISTS (SELECT 1 FROM payments o WHERE o.mpesa_receipt = %(receipt)s AND o.id <> %(id)s) AS receipt_taken"
)
# The raw callback is stored, and the payment read with whether the callback's receipt belongs to another one,
# in one statement (one round trip, committed on its own: autocommit).
_STORE_AND_READ = f"""
    WITH raw AS (
        INSERT INTO stk_callbacks (payment_id, source_ip, headers, body)
        VALUES (%(id)s, %(source)s, %(headers)s, %(body)s) RETURNING id
    )
    SELECT raw.id, {_RECEIPT_TAKEN}, {_PAYMENT_SELECT} FROM raw LEFT JOIN payments p ON p.id = %(id)s"""
_READ = f"SELECT 0, {_RECEIPT_TAKEN}, {_PAYMENT_SELECT} FROM (SELECT 1) one LEFT JOIN payments p ON p.id = %(id)s"


@dataclass(frozen=True)
class CallbackView:
    """What a callback needs to decide: its stored row, the payment as it was read, and whether the callback's
    receipt already belongs to another payment."""

    callback_id: int
    payment: Payment | None
    receipt_taken: bool


def _view(row: tuple[Any, ...], callback_id: int | None = None) -> CallbackView:
    values = row[2:]
    payment = Payment(**dict(zip(_PAYMENT_NAMES, values, strict=True))) if values[0] is not None else None
    return CallbackView(callback_id if callback_id is not None else row[0], payment, bool(row[1]))


async def store_callback(
    conn: AsyncConnection,
    payment_id: UUID,
    *,
    source_ip: str | None,
    headers_json: str,
    body: bytes,
    receipt: str | None,
) -> CallbackView:
    cursor = await conn.execute(
        _STORE_AND_READ,
        {"id": payment_id, "source": source_ip, "headers": headers_json, "body": body, "receipt": receipt},
    )
    row = await cursor.fetchone()
    assert row is not None
    return _view(row)


async def read_for_callback(
    conn: AsyncConnection, callback_id: int, payment_id: UUID, receipt: str | None
) -> CallbackView:
    cursor = await conn.execute(_READ, {"id": payment_id, "receipt": receipt})
    row = await cursor.fetchone()
    assert row is not None
    return _view(row, callback_id)


async def transition_for_callback(
    conn: AsyncConnection,
    payment_id: UUID,
    *,
    seen_updated_at: datetime,
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
) -> Payment | None:
    """`transition` plus the stk_callbacks row marked processed, in one statement (a CTE), provided the payment
    is unchanged since `seen_updated_at`; None when it changed meanwhile (read it again and decide again)."""
    params = _transition_params(
        payment_id, allowed_from=allowed_from, to_state=to_state, reason=reason, detail=detail, fields=fields
    )
    params |= {
        "seen_updated_at": seen_updated_at,
        "callback_id": callback_id,
        "callback_status": callback_status,
        "callback_note": callback_note,
        "callback_checkout": callback_checkout,
        "callback_result": callback_result,
    }
    async with conn.cursor(row_factory=class_row(Payment)) as cur:
        await cur.execute(_callback_transition_query(tuple(sorted(fields))), params)
        payment = await cur.fetchone()
    if payment is not None:
        _count_transition(to_state, fields)
    return payment


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
