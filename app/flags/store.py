"""Feature flags in PostgreSQL, read through a short per-process cache (GOLIVE_FEATURE_FLAG_CACHE_SECONDS)
so that the payment path does not pay a query per request; a change reaches every process within it."""

from __future__ import annotations

import time

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from app.flags.bucketing import Flag


async def read_flags(conn: AsyncConnection) -> dict[str, Flag]:
    cursor = await conn.execute("SELECT feature, enabled, percentage FROM feature_flags ORDER BY feature")
    return {row[0]: Flag(row[0], row[1], row[2]) for row in await cursor.fetchall()}


async def write_flag(conn: AsyncConnection, flag: Flag, updated_by: str) -> Flag:
    cursor = await conn.execute(
        """INSERT INTO feature_flags (feature, enabled, percentage, updated_by, updated_at)
           VALUES (%s, %s, %s, %s, now())
           ON CONFLICT (feature) DO UPDATE SET enabled = EXCLUDED.enabled, percentage = EXCLUDED.percentage,
               updated_by = EXCLUDED.updated_by, updated_at = now()
           RETURNING feature, enabled, percentage""",
        (flag.feature, flag.enabled, flag.percentage, updated_by),
    )
    row = await cursor.fetchone()
    assert row is not None
    return Flag(row[0], row[1], row[2])


class FlagCache:
    def __init__(self, pool: AsyncConnectionPool, ttl_seconds: float):
        self._pool = pool
        self._ttl = ttl_seconds
        self._flags: dict[str, Flag] = {}
        self._loaded_at = float("-inf")

    async def get(self, feature: str) -> Flag | None:
        if time.monotonic() - self._loaded_at >= self._ttl:
            async with self._pool.connection() as conn:
                self._flags = await read_flags(conn)
            self._loaded_at = time.monotonic()
        return self._flags.get(feature)

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")
