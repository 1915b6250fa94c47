"""One Daraja OAuth token per deployment, shared by every worker process through PostgreSQL.

Daraja invalidates the previous token whenever it issues a new one, so workers that each fetched
their own would keep knocking each other's tokens out. The token lives in the daraja_tokens row; a
process refreshes it under an advisory lock (so only one fetches), keeps a copy in memory until
shortly before expiry, and after a 404.001.03 refreshes once — unless another process already has.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from app.observability.logging_json import register_secret

TOKEN_LOCK_KEY = 0x746F6B656E  # "token"
Fetcher = Callable[[], Awaitable[tuple[str, int]]]


class SharedTokenStore:
    def __init__(self, pool: AsyncConnectionPool, *, refresh_margin_seconds: int, fetch_timeout_seconds: float):
        self._pool = pool
        self._margin = timedelta(seconds=refresh_margin_seconds)
        self._lock_wait_ms = int((fetch_timeout_seconds + 2) * 1000)
        self._token: str | None = None
        self._expires_at = datetime.min.replace(tzinfo=UTC)
        self._local = asyncio.Lock()

    def _fresh(self, expires_at: datetime) -> bool:
        return expires_at - self._margin > datetime.now(UTC)

    async def get(self, fetch: Fetcher) -> str:
        if self._token is not None and self._fresh(self._expires_at):
            return self._token
        async with self._local:
            if self._token is not None and self._fresh(self._expires_at):
                return self._token
            async with self._pool.connection() as conn:
                row = await self._read(conn)
            if row is not None and self._fresh(row[1]):
                return self._remember(*row)
            return await self._refresh(fetch, stale=None)

    async def replace(self, rejected: str, fetch: Fetcher) -> str:
        """Daraja refused `rejected`: get a new token, unless another process already did."""
        async with self._local:
            if self._token not in (None, rejected) and self._fresh(self._expires_at):
                return self._token  # type: ignore[return-value]
            self._token = None
            return await self._refresh(fetch, stale=rejected)

    async def _refresh(self, fetch: Fetcher, stale: str | None) -> str:
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(f"SET LOCAL lock_timeout = {self._lock_wait_ms}")
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (TOKEN_LOCK_KEY,))
            row = await self._read(conn)
            if row is not None and row[0] != stale and self._fresh(row[1]):
                return self._remember(*row)
            token, expires_in = await fetch()
            expires_at = datetime.now(UTC) + timedelta(seconds=expires_in)
            await conn.execute(
                "INSERT INTO daraja_tokens (id, access_token, expires_at, fetched_at) VALUES (1, %s, %s, now())"
                " ON CONFLICT (id) DO UPDATE SET access_token = EXCLUDED.access_token,"
                " expires_at = EXCLUDED.expires_at, fetched_at = now()",
                (token, expires_at),
            )
            return self._remember(token, expires_at)

    @staticmethod
    async def _read(conn: AsyncConnection) -> tuple[str, datetime] | None:
        cursor = await conn.execute("SELECT access_token, expires_at FROM daraja_tokens WHERE id = 1")
        row = await cursor.fetchone()
        return (row[0], row[1]) if row else None

    def _remember(self, token: str, expires_at: datetime) -> str:
        register_secret(token)
        self._token, self._expires_at = token, expires_at
        return token
