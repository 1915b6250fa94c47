"""The leader lease's SQL on a real PostgreSQL: one holder at a time, takeover only after expiry with a higher
fence, renewal only by the current holder, release hands over at once, and a stale leader's fenced write is
refused (nothing of it lands)."""

from __future__ import annotations

import asyncio
import time
import uuid

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from app.worker.lease import Lease, LeaseLost, current_holder


def _role() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


def _run(db_url: str, scenario) -> None:
    async def main() -> None:
        async with AsyncConnectionPool(db_url, min_size=1, max_size=4, kwargs={"autocommit": True}) as pool:
            await scenario(pool)

    asyncio.run(main())


def _expire(db_url: str, role: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE worker_leases SET expires_at = now() - interval '1 second' WHERE role = %s", (role,))


EXPIRED = "SELECT expires_at <= now() FROM worker_leases WHERE role = %s"
# Another session's statement on the lease table waits for a lock (the takeover, held by the write's FOR SHARE).
TAKEOVER_WAITING = """
    SELECT count(*) > 0 FROM pg_stat_activity
    WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%worker_leases%'
      AND pid <> pg_backend_pid()"""


async def _until(pool, query: str, params: tuple | None = None, seconds: float = 30) -> None:
    """Until `query` answers true (polled; the lease's own timing is in whole seconds)."""
    deadline = time.monotonic() + seconds
    while True:
        async with pool.connection() as conn:
            if (await (await conn.execute(query, params)).fetchone())[0]:
                return
        assert time.monotonic() < deadline, f"not within {seconds} s: {query}"
        await asyncio.sleep(0.05)


def test_one_holder_at_a_time_and_renewal_only_by_it(db_url):
    role = _role()

    async def scenario(pool):
        first, second = Lease(pool, holder="a", ttl=30, role=role), Lease(pool, holder="b", ttl=30, role=role)
        assert await first.acquire() and first.fence == 1 and first.held()
        assert not await second.acquire()
        assert second.fence is None and not second.held()
        assert await first.renew()
        second.fence = 1  # even with the right fence, another holder cannot renew
        assert not await second.renew()
        assert await current_holder(pool, role) == ("a", 1, True)

    _run(db_url, scenario)


def test_an_expired_lease_is_taken_over_with_a_higher_fence_and_the_old_leader_is_fenced_off(db_url, db):
    role = _role()
    marker = f"fenced-{uuid.uuid4().hex[:8]}"

    async def scenario(pool):
        old, new = Lease(pool, holder="old", ttl=30, role=role), Lease(pool, holder="new", ttl=30, role=role)
        assert await old.acquire()
        async with pool.connection() as conn, old.fenced(conn):  # while it holds the lease, it may write
            await conn.execute("SELECT 1")
        _expire(db_url, role)
        assert await new.acquire() and new.fence == 2
        assert not await old.renew()
        async with pool.connection() as conn:
            with pytest.raises(LeaseLost, match="no longer held"):
                async with old.fenced(conn):
                    await conn.execute("INSERT INTO api_keys (name, key_hash) VALUES (%s, %s)", (marker, "0" * 64))
            async with new.fenced(conn):
                await conn.execute("SELECT 1")

    _run(db_url, scenario)
    assert db.execute("SELECT count(*) FROM api_keys WHERE name = %s", (marker,)).fetchone() == (0,)


def test_a_takeover_waits_for_a_fenced_write_in_flight(db_url, db):
    """The fence check locks the lease row until the write commits: a worker taking over an expired lease waits for
    it, so a leader's write can never land after another worker became the leader."""
    role = _role()
    marker = f"inflight-{uuid.uuid4().hex[:8]}"
    order: list[str] = []

    async def scenario(pool):
        old, new = Lease(pool, holder="old", ttl=1, role=role), Lease(pool, holder="new", ttl=30, role=role)
        assert await old.acquire()
        in_flight = asyncio.Event()

        async def slow_write() -> None:
            async with pool.connection() as conn, old.fenced(conn):
                in_flight.set()
                # The lease expires (in the database) while the write is in flight, and the takeover comes meanwhile.
                await _until(pool, TAKEOVER_WAITING)
                await conn.execute("INSERT INTO api_keys (name, key_hash) VALUES (%s, %s)", (marker, "1" * 64))
                order.append("write")  # still inside the transaction: not committed yet

        async def take_over() -> None:
            await in_flight.wait()
            await _until(pool, EXPIRED, (role,))
            assert await new.acquire()
            order.append("new leader")

        await asyncio.gather(slow_write(), take_over())

    _run(db_url, scenario)
    assert order == ["write", "new leader"]
    assert db.execute("SELECT count(*) FROM api_keys WHERE name = %s", (marker,)).fetchone() == (1,)
    db.execute("DELETE FROM api_keys WHERE name = %s", (marker,))


def test_release_hands_over_at_once_and_an_unheld_lease_cannot_fence(db_url):
    role = _role()

    async def scenario(pool):
        first, second = Lease(pool, holder="a", ttl=30, role=role), Lease(pool, holder="b", ttl=30, role=role)
        assert await first.acquire()
        assert await first.release()
        assert first.fence is None and not first.held()
        assert await second.acquire() and second.fence == 2
        async with pool.connection() as conn:
            with pytest.raises(LeaseLost, match="not the leader"):
                async with first.fenced(conn):
                    pass
        assert not await first.release()  # nothing to release

    _run(db_url, scenario)


def test_two_workers_racing_for_a_free_lease_get_exactly_one(db_url):
    role = _role()

    async def scenario(pool):
        leases = [Lease(pool, holder=f"w{i}", ttl=30, role=role) for i in range(4)]
        won = await asyncio.gather(*(lease.acquire() for lease in leases))
        assert sorted(won) == [False, False, False, True]

    _run(db_url, scenario)
