"""The leader lease in PostgreSQL (worker_leases): one statement each to acquire, renew and release, and a
fencing check for writes.

- acquire: an INSERT … ON CONFLICT … DO UPDATE … WHERE the current lease has expired; the fence goes up by one
  at every change of holder, so a stale leader's fence never matches again.
- renew: only the holder with the current fence, only while the lease has not lapsed in the database.
- fenced(conn): a transaction whose first statement re-reads the lease FOR SHARE; it raises LeaseLost unless
  this worker still holds it, and the row lock keeps any other worker from taking the lease until the transaction
  ends, so a write made inside it cannot land after a takeover.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from app.worker.lease_timing import valid_until

ACQUIRE = """
    INSERT INTO worker_leases AS l (role, holder, fence, acquired_at, expires_at)
    VALUES (%(role)s, %(holder)s, 1, now(), now() + make_interval(secs => %(ttl)s))
    ON CONFLICT (role) DO UPDATE
        SET holder = EXCLUDED.holder, fence = l.fence + 1, acquired_at = now(), expires_at = EXCLUDED.expires_at
        WHERE l.expires_at <= now()
    RETURNING fence"""
RENEW = """
    UPDATE worker_leases SET expires_at = now() + make_interval(secs => %(ttl)s)
    WHERE role = %(role)s AND holder = %(holder)s AND fence = %(fence)s AND expires_at > now()
    RETURNING fence"""
RELEASE = """
    UPDATE worker_leases SET expires_at = now()
    WHERE role = %(role)s AND holder = %(holder)s AND fence = %(fence)s AND expires_at > now()"""
CHECK = """
    SELECT fence FROM worker_leases
    WHERE role = %(role)s AND holder = %(holder)s AND fence = %(fence)s AND expires_at > now()
    FOR SHARE"""
CURRENT = "SELECT holder, fence, expires_at > now() AS live FROM worker_leases WHERE role = %s"

DEFAULT_ROLE = "recovery"


class LeaseLost(RuntimeError):
    """This worker is no longer the leader: whatever it was about to write was refused."""


class Lease:
    def __init__(self, pool: AsyncConnectionPool, *, holder: str, ttl: float, role: str = DEFAULT_ROLE):
        self.pool = pool
        self.role = role
        self.holder = holder
        self.ttl = ttl
        self.fence: int | None = None
        self.believed_until = 0.0

    def _params(self) -> dict[str, object]:
        return {"role": self.role, "holder": self.holder, "fence": self.fence, "ttl": self.ttl}

    def held(self) -> bool:
        """This worker may act as the leader now (its belief, bounded by the lease's lifetime)."""
        return self.fence is not None and time.monotonic() < self.believed_until

    def remaining(self) -> float:
        return max(0.0, self.believed_until - time.monotonic())

    async def acquire(self) -> bool:
        sent = time.monotonic()
        async with self.pool.connection() as conn:
            row = await (await conn.execute(ACQUIRE, self._params())).fetchone()
        if row is None:
            return False
        self.fence, self.believed_until = row[0], valid_until(sent, self.ttl)
        return True

    async def renew(self) -> bool:
        """True when renewed; False when refused: the lease is lost (call forget())."""
        if self.fence is None:
            return False
        sent = time.monotonic()
        async with self.pool.connection() as conn:
            row = await (await conn.execute(RENEW, self._params())).fetchone()
        if row is None:
            return False  # the caller forgets the lease (and says so)
        self.believed_until = valid_until(sent, self.ttl)
        return True

    async def release(self) -> bool:
        """Ends the lease now so another worker takes over at once; True when there was one to end."""
        if self.fence is None:
            return False
        try:
            async with self.pool.connection() as conn:
                cursor = await conn.execute(RELEASE, self._params())
            return cursor.rowcount == 1
        finally:
            self.forget()

    def forget(self) -> None:
        self.fence, self.believed_until = None, 0.0

    @asynccontextmanager
    async def fenced(self, conn: AsyncConnection) -> AsyncIterator[AsyncConnection]:
        """A transaction that commits only writes made while this worker holds the lease (see the module doc)."""
        if self.fence is None:
            raise LeaseLost("not the leader")
        async with conn.transaction():
            row = await (await conn.execute(CHECK, self._params())).fetchone()
            if row is None:
                raise LeaseLost(f"lease {self.role!r} fence {self.fence} is no longer held by {self.holder}")
            yield conn


async def current_holder(pool: AsyncConnectionPool, role: str = DEFAULT_ROLE) -> tuple[str, int, bool] | None:
    """(holder, fence, live) of the role's lease, or None when no worker ever held it."""
    async with pool.connection() as conn:
        row = await (await conn.execute(CURRENT, (role,))).fetchone()
    return (row[0], row[1], row[2]) if row else None
