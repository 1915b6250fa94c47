"""Settle a payment by STK Push Query: the worker's sweep (fenced by its lease) and an operator's retry (through the
API) both come here. Order of work, each step safe to interrupt:

1. claim: count the query and schedule the next one (one conditional UPDATE) — a crash after it only delays;
2. ask Daraja (no transaction open, no lock held);
3. write what the answer decides (the callback rules, app.payments.query_decision) in one transaction that locks
   the payment row, re-reads it and closes the payment's recovery cases — so a callback arriving meanwhile is
   never overwritten and nothing is half-applied.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from app.metrics import DARAJA_CONFIG_ERRORS, STK_QUERIES
from app.mpesa.client import DarajaClient, QueryAnswer
from app.mpesa.errors import DarajaError
from app.payments import repository
from app.payments.callback_decision import APPLIED
from app.payments.model import PAYMENT_COLUMNS, SUBMITTED, UNKNOWN, Payment
from app.payments.query_decision import decide_query
from app.recovery import cases
from app.recovery.backoff import Backoff
from app.recovery.guard import Guard
from app.settings import Settings

log = logging.getLogger("golive.recovery.stk_query")
QUERYABLE = (SUBMITTED, UNKNOWN)
WORKER = "worker"


@dataclass(frozen=True)
class QueryResult:
    answer: str  # paid | failed | unknown | pending | error | unchanged
    state: str
    detail: str


@dataclass(frozen=True)
class Queryable:
    payment: Payment
    stk_queries: int


def _queryable(row: tuple) -> Queryable:
    *values, queries = row
    names = [name.strip() for name in PAYMENT_COLUMNS.split(",")]
    return Queryable(Payment(**dict(zip(names, values, strict=True))), queries)


async def due(conn: AsyncConnection, settings: Settings, limit: int) -> list[Queryable]:
    """Submitted payments without a callback T after the push whose next query is due, most overdue first."""
    cursor = await conn.execute(
        f"""SELECT {PAYMENT_COLUMNS}, stk_queries FROM payments
            WHERE state = 'submitted' AND checkout_request_id IS NOT NULL
              AND submitted_at <= now() - make_interval(secs => %(after)s)
              AND (next_query_at IS NULL OR next_query_at <= now())
            ORDER BY coalesce(next_query_at, submitted_at), id LIMIT %(limit)s""",
        {"after": settings.recovery_query_after_seconds, "limit": limit},
    )
    return [_queryable(row) for row in await cursor.fetchall()]


async def load(conn: AsyncConnection, payment_id: UUID) -> Queryable | None:
    cursor = await conn.execute(f"SELECT {PAYMENT_COLUMNS}, stk_queries FROM payments WHERE id = %s", (payment_id,))
    row = await cursor.fetchone()
    return _queryable(row) if row else None


async def query_and_settle(
    pool: AsyncConnectionPool,
    daraja: DarajaClient,
    settings: Settings,
    item: Queryable,
    *,
    guard: Guard,
    actor: str = WORKER,
    escalate: bool = True,
) -> QueryResult:
    """One query for one payment and whatever its answer decides. `escalate`: past the deadline without a definite
    answer, a submitted payment goes to unknown (needs review)."""
    payment, backoff = item.payment, Backoff.from_settings(settings)
    assert payment.checkout_request_id is not None
    submitted_at = payment.submitted_at or payment.created_at
    made = item.stk_queries + 1
    async with pool.connection() as conn:
        async with guard(conn):
            claimed = await conn.execute(
                """UPDATE payments SET stk_queries = stk_queries + 1, last_query_at = now(), next_query_at = %s
                   WHERE id = %s AND state = %s""",
                (backoff.next_query_at(submitted_at, made, datetime.now(UTC)), payment.id, payment.state),
            )
        if claimed.rowcount != 1:
            return QueryResult("unchanged", await _state(conn, payment.id), "the payment changed before the query")
    try:  # no connection held while Daraja answers
        answer = await daraja.stk_query(payment.checkout_request_id)
    except DarajaError as exc:
        STK_QUERIES.labels("error").inc()
        log.warning("STK query failed", extra={"payment_id": str(payment.id), "error": exc.message})
        note, detail = f"error: {exc.error_code or exc.failure.value}", exc.message
    else:
        if answer.result_code is not None:
            async with pool.connection() as conn:
                return await _settle(conn, payment.id, answer, guard=guard, actor=actor)
        STK_QUERIES.labels("pending").inc()
        note, detail = "pending", answer.result_desc or "being processed"
    async with pool.connection() as conn:
        return await _no_answer(conn, settings, item, note, detail, guard=guard, escalate=escalate)


def _stuck_kind(payment: Payment) -> str:
    return "no_callback" if payment.state == SUBMITTED else "needs_review"


def _stuck_since(payment: Payment) -> datetime:
    if payment.state == SUBMITTED:
        return payment.submitted_at or payment.created_at
    return payment.updated_at


async def _state(conn: AsyncConnection, payment_id: UUID) -> str:
    row = await (await conn.execute("SELECT state FROM payments WHERE id = %s", (payment_id,))).fetchone()
    return row[0] if row else "missing"


async def _no_answer(
    conn: AsyncConnection, settings: Settings, item: Queryable, note: str, detail: str, *, guard: Guard, escalate: bool
) -> QueryResult:
    """No definite answer: remember what Daraja said; past the deadline a submitted payment goes to review."""
    async with guard(conn):
        await conn.execute("UPDATE payments SET last_query_result = %s WHERE id = %s", (note[:200], item.payment.id))
    if escalate:
        escalated = await escalate_if_overdue(conn, settings, item, guard=guard)
        if escalated is not None:
            return escalated
    return QueryResult("pending" if note == "pending" else "error", item.payment.state, detail)


async def escalate_if_overdue(
    conn: AsyncConnection, settings: Settings, item: Queryable, *, guard: Guard
) -> QueryResult | None:
    """Past the deadline without a definite answer: submitted → unknown (needs review), the case escalated."""
    payment, backoff = item.payment, Backoff.from_settings(settings)
    if payment.state != SUBMITTED or not backoff.past_deadline(payment.submitted_at or payment.created_at,
                                                                datetime.now(UTC)):  # fmt: skip
        return None
    async with guard(conn):
        row = await (
            await conn.execute("SELECT stk_queries, last_query_result FROM payments WHERE id = %s", (payment.id,))
        ).fetchone()
        queries, last = (row[0], row[1]) if row else (item.stk_queries, None)
        reason = (
            f"no callback and no definite STK query answer within {backoff.deadline:.0f} s of the push"
            f" ({queries} queries; last answer: {last or 'none'}): needs review"
        )
        moved = await repository.transition(
            conn, payment.id, allowed_from=(SUBMITTED,), to_state=UNKNOWN, reason=reason,
            detail={"source": "stk_query", "actor": WORKER, "queries": queries},
            needs_review=True, failure_reason=reason[:500], settled_at=datetime.now(UTC),
        )  # fmt: skip
        if moved is None:
            return QueryResult("unchanged", await _state(conn, payment.id), "the payment changed meanwhile")
        await cases.close_or_record(
            conn, payment.id, kind="no_callback", opened_at=payment.submitted_at or payment.created_at,
            resolution=cases.ESCALATED, state=UNKNOWN, actor=WORKER, reason=reason,
        )  # fmt: skip
    log.warning("payment needs review: no definite answer by the deadline", extra={"payment_id": str(payment.id)})
    return QueryResult("unknown", UNKNOWN, reason)


async def _settle(
    conn: AsyncConnection, payment_id: UUID, answer: QueryAnswer, *, guard: Guard, actor: str
) -> QueryResult:
    async with guard(conn):
        async with conn.cursor(row_factory=class_row(Payment)) as cur:
            await cur.execute(f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = %s FOR UPDATE", (payment_id,))
            payment = await cur.fetchone()
        assert payment is not None
        await conn.execute(
            "UPDATE payments SET last_query_result = %s WHERE id = %s", (str(answer.result_code)[:200], payment_id)
        )
        decision = decide_query(payment, answer)
        if decision.config_error:
            DARAJA_CONFIG_ERRORS.inc()
            log.error("M-Pesa says our configuration is wrong (2028: TransactionType or PartyB)",
                      extra={"payment_id": str(payment_id)})  # fmt: skip
        detail = {"source": "stk_query", "actor": actor, "result_code": answer.result_code}
        if decision.status == APPLIED and decision.to_state and payment.state in decision.allowed_from:
            moved = await repository.transition(
                conn, payment_id, allowed_from=(payment.state,), to_state=decision.to_state,
                reason=decision.reason if actor == WORKER else f"{decision.reason}, asked by {actor}",
                detail=detail, settled_at=datetime.now(UTC), **decision.fields,
            )  # fmt: skip
            assert moved is not None  # the row is locked and its state was just read
            escalated = decision.to_state == UNKNOWN or decision.needs_review
            await cases.close_or_record(
                conn, payment_id, kind=_stuck_kind(payment), opened_at=_stuck_since(payment),
                resolution=cases.ESCALATED if escalated else cases.RECOVERED,
                state=decision.to_state, actor=actor, reason=decision.reason,
            )  # fmt: skip
            answer_label = {"paid": "paid", "failed": "failed"}.get(decision.to_state, "unknown")
            STK_QUERIES.labels(answer_label).inc()
            log.info("payment settled by STK query",
                     extra={"payment_id": str(payment_id), "state": decision.to_state, "actor": actor})  # fmt: skip
            return QueryResult(answer_label, decision.to_state, decision.reason)
        if decision.needs_review:
            await repository.mark_for_review(conn, payment_id, decision.reason, detail)
        STK_QUERIES.labels("unchanged").inc()
        return QueryResult("unchanged", payment.state, decision.reason)
