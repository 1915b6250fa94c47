"""Which payments are stuck, why, and since when — one SQL definition shared by the admin list, the statistics,
the worker's census gauges and the recovery cases, so they always agree.

Reasons, first match wins:
  payout_failed        the payout failed; until a person resolves it (a 'resolved' case newer than the state)
  needs_review         state unknown, or flagged for a person
  no_callback          submitted, no callback T after the push (the STK-query sweep is asking Daraja)
  push_unanswered      initiated for longer than GOLIVE_RECOVERY_INITIATED_AFTER_SECONDS (the sender died)
  payout_not_started   paid, no payout started within GOLIVE_RECOVERY_PAYOUT_STUCK_SECONDS
  payout_waiting       payout pending and waiting (payouts.waiting_for: treasury short) or for longer than that
  broadcast_stuck, confirming_stuck   in that payout state for longer than that
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from app.settings import Settings

REASONS = (
    "payout_failed",
    "needs_review",
    "no_callback",
    "push_unanswered",
    "payout_not_started",
    "payout_waiting",
    "broadcast_stuck",
    "confirming_stuck",
)

# Over `payments p LEFT JOIN payouts o ON o.payment_id = p.id`; parameters from thresholds().
REASON_SQL = """CASE
    WHEN p.state = 'payout_failed' AND NOT EXISTS (
        SELECT 1 FROM recovery_cases r WHERE r.payment_id = p.id AND r.resolution = 'resolved'
        AND r.closed_at >= p.updated_at) THEN 'payout_failed'
    WHEN p.state = 'unknown' OR (p.needs_review AND p.state <> 'payout_failed') THEN 'needs_review'
    WHEN p.state = 'submitted' AND p.submitted_at <= now() - make_interval(secs => %(query_after)s)
        THEN 'no_callback'
    WHEN p.state = 'initiated' AND p.created_at <= now() - make_interval(secs => %(initiated_after)s)
        THEN 'push_unanswered'
    WHEN p.state = 'paid' AND p.updated_at <= now() - make_interval(secs => %(payout_after)s)
        THEN 'payout_not_started'
    WHEN p.state = 'payout_pending' AND (o.waiting_for IS NOT NULL
        OR p.updated_at <= now() - make_interval(secs => %(payout_after)s)) THEN 'payout_waiting'
    WHEN p.state IN ('broadcast', 'confirming') AND p.updated_at <= now() - make_interval(secs => %(payout_after)s)
        THEN p.state || '_stuck'
END"""
SINCE_SQL = """CASE WHEN p.state = 'submitted' THEN coalesce(p.submitted_at, p.created_at)
    WHEN p.state = 'initiated' THEN p.created_at ELSE p.updated_at END"""
DETAIL_SQL = """CASE WHEN p.state = 'payout_pending' AND o.waiting_for IS NOT NULL THEN 'waiting for ' || o.waiting_for
    WHEN p.state = 'submitted'
        THEN p.stk_queries || ' STK queries; last answer: ' || coalesce(p.last_query_result, 'none')
    ELSE coalesce(p.failure_reason, o.last_error) END"""
# Candidate rows only: every stuck payment is in one of these states or flagged.
CANDIDATES = """p.state IN ('initiated', 'submitted', 'unknown', 'paid', 'payout_pending', 'broadcast', 'confirming',
    'payout_failed') OR p.needs_review"""
STUCK = f"""
    SELECT p.id, p.state, p.needs_review, {SINCE_SQL} AS since, {REASON_SQL} AS reason, {DETAIL_SQL} AS detail,
           p.stk_queries, p.next_query_at
    FROM payments p LEFT JOIN payouts o ON o.payment_id = p.id
    WHERE {CANDIDATES}"""


def thresholds(settings: Settings) -> dict[str, float]:
    return {
        "query_after": settings.recovery_query_after_seconds,
        "initiated_after": settings.recovery_initiated_after_seconds,
        "payout_after": settings.recovery_payout_stuck_seconds,
    }


@dataclass(frozen=True)
class StuckItem:
    payment_id: UUID
    state: str
    reason: str
    since: datetime
    age_seconds: float
    needs_review: bool
    detail: str | None
    stk_queries: int
    next_query_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "payment_id": str(self.payment_id),
            "state": self.state,
            "reason": self.reason,
            "since": self.since.isoformat(),
            "age_seconds": round(self.age_seconds, 1),
            "needs_review": self.needs_review,
            "detail": self.detail,
            "stk_queries": self.stk_queries,
            "next_query_at": self.next_query_at.isoformat() if self.next_query_at else None,
        }


async def list_stuck(
    conn: AsyncConnection, settings: Settings, *, reason: str | None = None, limit: int = 100
) -> list[StuckItem]:
    """Oldest first."""
    cursor = await conn.execute(
        f"""SELECT id, state, reason, since, extract(epoch FROM now() - since)::float8, needs_review, detail,
                   stk_queries, next_query_at
            FROM ({STUCK}) s WHERE reason IS NOT NULL AND (%(reason)s::text IS NULL OR reason = %(reason)s)
            ORDER BY since, id LIMIT %(limit)s""",
        {**thresholds(settings), "reason": reason, "limit": limit},
    )
    return [StuckItem(*row) for row in await cursor.fetchall()]


async def census(conn: AsyncConnection, settings: Settings) -> dict[str, tuple[int, float]]:
    """reason → (count, oldest age in seconds), for the reasons with at least one item."""
    cursor = await conn.execute(
        f"""SELECT reason, count(*), max(extract(epoch FROM now() - since))::float8
            FROM ({STUCK}) s WHERE reason IS NOT NULL GROUP BY reason""",
        thresholds(settings),
    )
    return {row[0]: (row[1], row[2]) for row in await cursor.fetchall()}


async def reason_for(conn: AsyncConnection, settings: Settings, payment_id: UUID) -> str | None:
    cursor = await conn.execute(
        f"SELECT {REASON_SQL} FROM payments p LEFT JOIN payouts o ON o.payment_id = p.id WHERE p.id = %(id)s",
        {**thresholds(settings), "id": payment_id},
    )
    row = await cursor.fetchone()
    return row[0] if row else None
