"""Recovery cases: one row per stuck episode of a payment (see migration 0003). Opened and closed from the
payments' states by the worker's `cases` sweep (idempotent statements: a crash mid-sweep loses nothing), and closed
directly — with the true actor — by whoever settles a payment through recovery (the STK query, a person)."""

from __future__ import annotations

from collections import Counter
from uuid import UUID

from psycopg import AsyncConnection

from app.metrics import RECOVERIES
from app.recovery.stuck import CANDIDATES, DETAIL_SQL, REASON_SQL, SINCE_SQL, thresholds
from app.settings import Settings

RECOVERED, ESCALATED, RESOLVED = "recovered", "escalated", "resolved"
SYSTEM = "system"  # closed because the payment moved on by itself (a callback, the payout code)

_OPEN = f"""
    INSERT INTO recovery_cases (payment_id, kind, opened_at, detail)
    SELECT id, reason, since, detail FROM (
        SELECT p.id, {REASON_SQL} AS reason, {SINCE_SQL} AS since, {DETAIL_SQL} AS detail
        FROM payments p LEFT JOIN payouts o ON o.payment_id = p.id WHERE {CANDIDATES}
    ) s
    WHERE reason IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM recovery_cases c WHERE c.payment_id = s.id AND c.kind = s.reason
                      AND c.closed_at IS NULL)
    ORDER BY since LIMIT %(limit)s
    ON CONFLICT (payment_id, kind) WHERE closed_at IS NULL DO NOTHING
    RETURNING kind"""
_CLOSE_MOVED_ON = f"""
    WITH moved AS (
        SELECT c.id, p.state, {REASON_SQL} AS now_reason,
               (SELECT e.reason FROM payment_events e WHERE e.payment_id = p.id ORDER BY e.id DESC LIMIT 1) AS why
        FROM recovery_cases c JOIN payments p ON p.id = c.payment_id LEFT JOIN payouts o ON o.payment_id = p.id
        WHERE c.closed_at IS NULL AND ({REASON_SQL}) IS DISTINCT FROM c.kind
        ORDER BY c.id LIMIT %(limit)s
    )
    UPDATE recovery_cases c SET closed_at = now(), outcome_state = moved.state, actor = %(actor)s, reason = moved.why,
        resolution = CASE WHEN moved.now_reason IS NULL THEN 'recovered' ELSE 'escalated' END
    FROM moved WHERE c.id = moved.id AND c.closed_at IS NULL
    RETURNING c.kind, c.resolution"""
_CLOSE_FOR_PAYMENT = """
    UPDATE recovery_cases SET closed_at = now(), resolution = %(resolution)s, outcome_state = %(state)s,
        actor = %(actor)s, reason = %(reason)s
    WHERE payment_id = %(id)s AND closed_at IS NULL
    RETURNING kind"""
_RECORD_CLOSED = """
    INSERT INTO recovery_cases
        (payment_id, kind, opened_at, detail, closed_at, resolution, outcome_state, actor, reason)
    VALUES (%(id)s, %(kind)s, %(opened_at)s, 'settled before a case was opened', now(), %(resolution)s, %(state)s,
            %(actor)s, %(reason)s)"""


async def open_new(conn: AsyncConnection, settings: Settings, limit: int) -> Counter[str]:
    cursor = await conn.execute(_OPEN, {**thresholds(settings), "limit": limit})
    return Counter(row[0] for row in await cursor.fetchall())


async def close_moved_on(conn: AsyncConnection, settings: Settings, limit: int) -> Counter[tuple[str, str]]:
    """Closes the open cases whose payment is no longer stuck for the case's reason."""
    cursor = await conn.execute(_CLOSE_MOVED_ON, {**thresholds(settings), "limit": limit, "actor": SYSTEM})
    closed = Counter((row[0], row[1]) for row in await cursor.fetchall())
    _count(closed)
    return closed


async def close_for_payment(
    conn: AsyncConnection, payment_id: UUID, *, resolution: str, state: str, actor: str, reason: str
) -> list[str]:
    """Closes every open case of the payment (call inside the transaction that changed the payment)."""
    cursor = await conn.execute(
        _CLOSE_FOR_PAYMENT,
        {"id": payment_id, "resolution": resolution, "state": state, "actor": actor, "reason": reason[:1000]},
    )
    kinds = [row[0] for row in await cursor.fetchall()]
    _count(Counter((kind, resolution) for kind in kinds))
    return kinds


async def record_closed(
    conn: AsyncConnection,
    payment_id: UUID,
    *,
    kind: str,
    opened_at: object,
    state: str,
    actor: str,
    reason: str,
    resolution: str = RESOLVED,
) -> None:
    """A payment was settled through recovery before any case was open for it: the case is recorded all the same
    (opened when the payment became stuck, closed now), so the statistics count it."""
    await conn.execute(
        _RECORD_CLOSED,
        {"id": payment_id, "kind": kind, "opened_at": opened_at, "resolution": resolution, "state": state,
         "actor": actor, "reason": reason[:1000]},
    )  # fmt: skip
    _count(Counter({(kind, resolution): 1}))


async def close_or_record(
    conn: AsyncConnection,
    payment_id: UUID,
    *,
    kind: str,
    opened_at: object,
    resolution: str,
    state: str,
    actor: str,
    reason: str,
) -> list[str]:
    """close_for_payment, or record_closed when no case was open (call inside the transaction that changed it)."""
    closed = await close_for_payment(conn, payment_id, resolution=resolution, state=state, actor=actor, reason=reason)
    if closed:
        return closed
    await record_closed(conn, payment_id, kind=kind, opened_at=opened_at, state=state, actor=actor, reason=reason,
                        resolution=resolution)  # fmt: skip
    return [kind]


def _count(closed: Counter[tuple[str, str]]) -> None:
    for (kind, resolution), count in closed.items():
        RECOVERIES.labels(kind, resolution).inc(count)
