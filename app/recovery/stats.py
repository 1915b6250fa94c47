"""Recovery statistics for GET /api/admin/recovery/stats, from the payments and the recovery cases.

recovered_last_hour / recovered_last_day: cases closed in the window as recovered (the payment moved on by itself
or by recovery) or resolved (by a person); escalations are not recoveries. mean_time_to_recover_seconds: the mean
of closed_at - opened_at over the last day's recoveries (opened_at: when the payment entered the stuck state).
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from app.recovery.stuck import census
from app.settings import Settings

_CASES = """
    SELECT count(*) FILTER (WHERE closed_at > now() - interval '1 hour' AND resolution IN ('recovered', 'resolved')),
           count(*) FILTER (WHERE resolution IN ('recovered', 'resolved')),
           extract(epoch FROM avg(closed_at - opened_at) FILTER (WHERE resolution IN ('recovered', 'resolved'))),
           count(*) FILTER (WHERE resolution = 'escalated'),
           count(*) FILTER (WHERE resolution = 'resolved')
    FROM recovery_cases WHERE closed_at > now() - interval '1 day'"""


async def stats(conn: AsyncConnection, settings: Settings) -> dict[str, Any]:
    by_state = {row[0]: row[1] for row in await (
        await conn.execute("SELECT state, count(*) FROM payments GROUP BY state ORDER BY state")
    ).fetchall()}  # fmt: skip
    stuck = await census(conn, settings)
    hour, day, mean, escalated, resolved = await (await conn.execute(_CASES)).fetchone()  # type: ignore[misc]
    open_cases = await (await conn.execute("SELECT count(*) FROM recovery_cases WHERE closed_at IS NULL")).fetchone()
    review = await (
        await conn.execute("SELECT count(*) FROM payments WHERE needs_review OR state = 'unknown'")
    ).fetchone()
    return {
        "payments_by_state": by_state,
        "needs_review": review[0] if review else 0,
        "stuck_by_reason": {reason: count for reason, (count, _) in sorted(stuck.items())},
        "stuck_total": sum(count for count, _ in stuck.values()),
        "oldest_stuck_age_seconds": round(max((age for _, age in stuck.values()), default=0.0), 1),
        "open_cases": open_cases[0] if open_cases else 0,
        "recovered_last_hour": hour,
        "recovered_last_day": day,
        "resolved_by_people_last_day": resolved,
        "escalated_last_day": escalated,
        "mean_time_to_recover_seconds": round(float(mean), 1) if mean is not None else None,
    }
