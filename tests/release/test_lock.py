"""The release lock against a real PostgreSQL: leases, expiry by the database's clock, fencing, races,
the heartbeat, and a holder that is killed without releasing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from foundation.repository import REPO_ROOT
from release import lock
from release.lock import Heartbeat, Lease, LockHeld, LockLost


@pytest.fixture
def url(database_factory) -> str:
    url = database_factory("release_lock")
    with psycopg.connect(url, autocommit=True) as conn:
        lock.ensure_schema(conn)
    return url


@pytest.fixture
def connect(url: str) -> Iterator[Callable[[], psycopg.Connection[Any]]]:
    opened: list[psycopg.Connection[Any]] = []

    def open_one() -> psycopg.Connection[Any]:
        conn = psycopg.connect(url, autocommit=True)
        opened.append(conn)
        return conn

    yield open_one
    for conn in opened:
        conn.close()


@pytest.fixture
def conn(connect) -> psycopg.Connection[Any]:
    return connect()


def wait_until_free(conn: psycopg.Connection[Any], env: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while lock.current(conn, env) is not None:
        assert time.monotonic() < deadline, f"the lease on {env} did not expire within {timeout} s"
        time.sleep(0.05)


def test_acquire_then_release(conn) -> None:
    lease = lock.acquire(conn, "local", "alice@ctl", 30, reason="release v1.2.0")

    assert (lease.env, lease.owner, lease.reason) == ("local", "alice@ctl", "release v1.2.0")
    assert 29 < (lease.expires_at - lease.acquired_at).total_seconds() <= 30
    assert lease.acquired_at.utcoffset().total_seconds() == 0
    assert lock.current(conn, "local") == lease
    lock.check(conn, lease)

    assert lock.release(conn, lease) is True
    assert lock.current(conn, "local") is None
    assert lock.release(conn, lease) is False
    assert lock.acquire(conn, "local", "alice@ctl", 30).token > lease.token


def test_a_second_acquire_is_refused_naming_the_holder(connect) -> None:
    first, second = connect(), connect()
    lease = lock.acquire(first, "local", "alice@ctl-1", 60, reason="release v1.2.0")

    with pytest.raises(LockHeld) as refused:
        lock.acquire(second, "local", "bob@ctl-2", 60)

    assert refused.value.holder == lease
    message = str(refused.value)
    assert "alice@ctl-1" in message
    assert "release v1.2.0" in message
    assert lease.expires_at.isoformat(timespec="milliseconds") in message
    assert "expires in" in message
    # The refused attempt changed nothing.
    assert lock.current(second, "local") == lease
    lock.check(first, lease)


def test_renew_extends_our_lease(conn) -> None:
    lease = lock.acquire(conn, "local", "alice", 5)

    renewed = lock.renew(conn, lease, 60)

    assert renewed.token == lease.token
    assert renewed.acquired_at == lease.acquired_at
    assert renewed.expires_at > lease.expires_at + timedelta(seconds=50)
    assert lock.current(conn, "local") == renewed


def test_an_expired_lease_goes_to_the_next_owner_and_the_stale_holder_is_fenced_off(connect) -> None:
    stale_conn, new_conn = connect(), connect()
    stale = lock.acquire(stale_conn, "local", "alice", 0.3)
    with pytest.raises(LockHeld):
        lock.acquire(new_conn, "local", "bob", 30)

    wait_until_free(new_conn, "local")
    fresh = lock.acquire(new_conn, "local", "bob", 30, reason="takeover")

    assert fresh.token > stale.token
    with pytest.raises(LockLost) as lost:
        lock.check(stale_conn, stale)
    assert "bob" in str(lost.value)
    assert "holds it now" in str(lost.value)
    assert lost.value.holder == fresh
    with pytest.raises(LockLost, match="bob"):
        lock.renew(stale_conn, stale, 30)
    assert lock.release(stale_conn, stale) is False
    # The new holder's row survived every attempt of the stale one.
    assert lock.current(new_conn, "local") == fresh
    lock.check(new_conn, fresh)


def test_an_expired_lease_that_nobody_took_is_lost_but_still_ours_to_delete(conn) -> None:
    lease = lock.acquire(conn, "local", "alice", 0.3)
    wait_until_free(conn, "local")

    with pytest.raises(LockLost, match="expired at") as lost:
        lock.check(conn, lease)
    assert lost.value.holder is None
    with pytest.raises(LockLost, match="expired at"):
        lock.renew(conn, lease, 30)
    assert lock.release(conn, lease) is True
    assert lock.force_unlock(conn, "local") is None


def race(connect, count: int, env: str) -> list[Lease | LockHeld]:
    conns = [connect() for _ in range(count)]
    barrier = threading.Barrier(count)
    results: list[Lease | LockHeld] = []

    def contend(index: int) -> None:
        barrier.wait()
        try:
            results.append(lock.acquire(conns[index], env, f"controller-{index}", 30))
        except LockHeld as exc:
            results.append(exc)

    threads = [threading.Thread(target=contend, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == count
    return results


def test_twenty_racing_controllers_exactly_one_wins(connect, conn) -> None:
    results = race(connect, 20, "staging")

    winners = [result for result in results if isinstance(result, Lease)]
    assert len(winners) == 1
    refusals = [result for result in results if isinstance(result, LockHeld)]
    assert all(refusal.holder == winners[0] for refusal in refusals)
    assert lock.current(conn, "staging") == winners[0]


def test_twenty_controllers_racing_for_an_expired_lease_exactly_one_takes_it(connect, conn) -> None:
    stale = lock.acquire(conn, "staging", "crashed", 0.2)
    wait_until_free(conn, "staging")

    results = race(connect, 20, "staging")

    winners = [result for result in results if isinstance(result, Lease)]
    assert len(winners) == 1
    assert winners[0].token > stale.token
    assert lock.current(conn, "staging") == winners[0]


def test_force_unlock_returns_the_broken_lease(connect) -> None:
    holder_conn, operator_conn = connect(), connect()
    lease = lock.acquire(holder_conn, "production", "alice", 300, reason="release v2")

    broken = lock.force_unlock(operator_conn, "production")

    assert broken == lease
    assert lock.current(operator_conn, "production") is None
    assert lock.force_unlock(operator_conn, "production") is None
    with pytest.raises(LockLost, match="gone"):
        lock.check(holder_conn, lease)
    assert lock.acquire(operator_conn, "production", "bob", 30).token > lease.token


def test_envs_are_independent(conn) -> None:
    local = lock.acquire(conn, "local", "alice", 30)
    lab = lock.acquire(conn, "lab", "bob", 30)

    assert local.token != lab.token
    assert lock.release(conn, local) is True
    lock.check(conn, lab)
    assert lock.current(conn, "lab") == lab
    with pytest.raises(LockHeld, match="bob"):
        lock.acquire(conn, "lab", "carol", 30)


def test_ensure_schema_is_idempotent_and_safe_to_race(database_factory) -> None:
    url = database_factory("release_lock_schema")
    conns = [psycopg.connect(url, autocommit=True) for _ in range(6)]
    try:
        barrier = threading.Barrier(len(conns))
        errors: list[BaseException] = []

        def ensure(conn: psycopg.Connection[Any]) -> None:
            barrier.wait()
            try:
                lock.ensure_schema(conn)
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=ensure, args=(conn,)) for conn in conns]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert errors == []

        lease = lock.acquire(conns[0], "local", "alice", 30)
        lock.ensure_schema(conns[0])  # again, with a lease in place: nothing is reset
        assert lock.current(conns[0], "local") == lease
        tables = (
            conns[0]
            .execute(
                "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema = 'golive_release'"
            )
            .fetchall()
        )
        assert tables == [("golive_release", "lease")]
    finally:
        for conn in conns:
            conn.close()


def test_bad_arguments_get_clear_errors(url, conn) -> None:
    with pytest.raises(ValueError, match="ttl_seconds must be positive"):
        lock.acquire(conn, "local", "alice", 0)
    with pytest.raises(ValueError, match="non-empty"):
        lock.acquire(conn, "", "alice", 30)
    with psycopg.connect(url) as transactional, pytest.raises(ValueError, match="autocommit"):
        lock.acquire(transactional, "local", "alice", 30)
    with conn.transaction(), pytest.raises(ValueError, match="outside any transaction"):
        lock.acquire(conn, "local", "alice", 30)
    lease = lock.acquire(conn, "local", "alice", 30)
    with pytest.raises(ValueError, match="interval"):
        Heartbeat(url, lease, 30, interval=30)


def test_the_heartbeat_keeps_a_one_second_lease_for_three_seconds(url, connect) -> None:
    holder_conn, other_conn = connect(), connect()
    lease = lock.acquire(holder_conn, "local", "alice", 1)

    with Heartbeat(url, lease, 1) as heartbeat:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            lock.check(holder_conn, lease)
            with pytest.raises(LockHeld):
                lock.acquire(other_conn, "local", "bob", 30)
            time.sleep(0.2)
        assert not heartbeat.lost
        heartbeat.raise_if_lost()

    assert heartbeat.error is None
    assert heartbeat.renewals >= 6
    assert heartbeat.lease.token == lease.token
    assert heartbeat.lease.expires_at > lease.expires_at
    assert lock.release(holder_conn, lease) is True


def test_a_crashed_holder_is_superseded_after_its_ttl(url, connect) -> None:
    holder_conn, other_conn = connect(), connect()
    lease = lock.acquire(holder_conn, "local", "alice", 1)
    heartbeat = Heartbeat(url, lease, 1)
    heartbeat.start()
    deadline = time.monotonic() + 10
    while heartbeat.renewals < 1:  # it has renewed the lease at least once
        assert time.monotonic() < deadline, "no renewal within 10 s"
        time.sleep(0.02)
    heartbeat.stop()  # the controller dies: no more renewals, and no release
    last = heartbeat.lease
    assert last.expires_at > lease.expires_at

    with pytest.raises(LockHeld):
        lock.acquire(other_conn, "local", "bob", 30)
    wait_until_free(other_conn, "local")
    successor = lock.acquire(other_conn, "local", "bob", 30)

    assert successor.acquired_at > last.expires_at
    assert successor.token > lease.token


def test_a_sigkilled_holder_lock_expires_by_itself(url, conn) -> None:
    script = textwrap.dedent(
        """
        import sys, time, psycopg
        from release import lock
        url = sys.argv[1]
        with psycopg.connect(url, autocommit=True) as conn:
            lease = lock.acquire(conn, "local", "doomed", 1)
        with lock.Heartbeat(url, lease, 1):
            print(lease.token, flush=True)
            time.sleep(60)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, url], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ}
    )
    try:
        token = int(child.stdout.readline())
        time.sleep(1.2)  # longer than the TTL: the heartbeat is what keeps it
        held = lock.current(conn, "local")
        assert held is not None
        assert (held.owner, held.token) == ("doomed", token)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        child.stdout.close()

    wait_until_free(conn, "local", timeout=3)
    assert lock.acquire(conn, "local", "next", 30).token > token


def test_the_heartbeat_reports_a_lost_lease(url, connect) -> None:
    holder_conn, operator_conn = connect(), connect()
    lease = lock.acquire(holder_conn, "local", "alice", 0.6)

    with Heartbeat(url, lease, 0.6) as heartbeat:
        lock.force_unlock(operator_conn, "local")
        lock.acquire(operator_conn, "local", "bob", 30)
        deadline = time.monotonic() + 2
        while not heartbeat.lost and time.monotonic() < deadline:
            time.sleep(0.02)

        assert heartbeat.lost
        assert isinstance(heartbeat.error, LockLost)
        with pytest.raises(LockLost, match="bob"):
            heartbeat.raise_if_lost()


def test_the_heartbeat_survives_a_dropped_connection(url, connect) -> None:
    holder_conn, admin_conn = connect(), connect()
    lease = lock.acquire(holder_conn, "local", "alice", 1)

    with Heartbeat(url, lease, 1) as heartbeat:
        killed = admin_conn.execute(
            """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
               WHERE datname = current_database() AND pid NOT IN (pg_backend_pid(), %s)""",
            (holder_conn.info.backend_pid,),
        ).fetchall()
        assert killed == [(True,)]
        time.sleep(1.5)  # past the TTL: only a reconnected heartbeat can have kept the lease

        assert not heartbeat.lost
        assert isinstance(heartbeat.error, psycopg.OperationalError)
        lock.check(holder_conn, lease)


def test_a_heartbeat_that_cannot_connect_fails_at_once(conn) -> None:
    lease = lock.acquire(conn, "local", "alice", 30)
    with pytest.raises(psycopg.OperationalError):
        Heartbeat("postgresql://nobody@127.0.0.1:1/nothing?connect_timeout=2", lease, 30).start()
