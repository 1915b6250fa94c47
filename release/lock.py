"""The release lock: a lease per environment in PostgreSQL, with an expiry and a fencing token.

Taking the lock is one atomic statement (insert, or take over a row whose lease has expired), never a
check followed by a write, so two controllers can never both hold it. Expiry is judged by the database's
clock (`now()`), never by a controller's. A holder that dies without releasing simply stops renewing and its
lease expires after its TTL. Every acquisition draws a fencing token from a sequence, so tokens only grow and
a stale holder is recognised by its token.

The lease lives in its own schema, `golive_release`, so that database backups can exclude it and restoring a
backup never rewinds the lock.

Every function takes a psycopg connection in autocommit mode, outside any transaction: inside one, `now()`
would be the transaction's start time and a taken lease would stay invisible (and the row locked) until commit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import psycopg
from psycopg import pq

SCHEMA = "golive_release"
_SCHEMA_LOCK_KEY = 0x676F6C697665  # "golive": the advisory lock that serialises concurrent ensure_schema() calls
_COLUMNS = "env, owner, token, reason, acquired_at, expires_at"
_ACQUIRE_ATTEMPTS = 10

_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE SEQUENCE IF NOT EXISTS {SCHEMA}.lease_token AS bigint;
CREATE TABLE IF NOT EXISTS {SCHEMA}.lease (
    env         text        PRIMARY KEY,
    owner       text        NOT NULL,
    token       bigint      NOT NULL UNIQUE,
    reason      text        NOT NULL,
    acquired_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
"""

# Insert, or take over the row only when its lease has expired. Under concurrency PostgreSQL re-evaluates the
# WHERE clause against the latest committed row, so of many racing acquirers exactly one gets a row back.
_ACQUIRE = f"""
INSERT INTO {SCHEMA}.lease AS held ({_COLUMNS})
VALUES (%(env)s, %(owner)s, nextval('{SCHEMA}.lease_token'), %(reason)s, now(),
        now() + make_interval(secs => %(ttl)s))
ON CONFLICT (env) DO UPDATE
    SET owner = EXCLUDED.owner, token = EXCLUDED.token, reason = EXCLUDED.reason,
        acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
    WHERE held.expires_at < now()
RETURNING {_COLUMNS}
"""


@dataclass(frozen=True)
class Lease:
    env: str
    owner: str
    token: int  # fencing token: strictly increasing across all acquisitions, never reused
    reason: str
    acquired_at: datetime
    expires_at: datetime

    def describe(self) -> str:
        return f"{self.owner} (reason: {self.reason!r}, token {self.token}) until {_fmt(self.expires_at)}"


class LockHeld(Exception):
    """Someone else holds an unexpired lease on the environment."""

    def __init__(self, holder: Lease, remaining: timedelta | None = None) -> None:
        self.holder = holder
        left = f" (expires in {max(remaining.total_seconds(), 0):.1f} s)" if remaining is not None else ""
        super().__init__(
            f"the release lock on {holder.env!r} is held by {holder.owner} (reason: {holder.reason!r}, "
            f"token {holder.token}), acquired {_fmt(holder.acquired_at)}, expires {_fmt(holder.expires_at)}{left}"
        )


class LockLost(Exception):
    """Our lease expired and/or another owner holds the lock now."""

    def __init__(self, lease: Lease, message: str, holder: Lease | None = None) -> None:
        self.lease = lease
        self.holder = holder
        super().__init__(message)


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    """Creates the schema, table and sequence if missing; safe to call repeatedly and concurrently."""
    _require_autocommit(conn)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
        conn.execute(_DDL)


@contextmanager
def connect(url: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to the environment's database with the lock's schema in place."""
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        ensure_schema(conn)
        yield conn


def acquire(conn: psycopg.Connection[Any], env: str, owner: str, ttl_seconds: float, reason: str = "release") -> Lease:
    """Takes the lease on `env` for `ttl_seconds`, or raises LockHeld naming the current holder."""
    _require_autocommit(conn)
    _require_ttl(ttl_seconds)
    if not env or not owner:
        raise ValueError("acquire needs a non-empty env and owner")
    for _ in range(_ACQUIRE_ATTEMPTS):
        row = conn.execute(_ACQUIRE, {"env": env, "owner": owner, "reason": reason, "ttl": ttl_seconds}).fetchone()
        if row is not None:
            return _lease(row)
        found = conn.execute(
            f"SELECT {_COLUMNS}, expires_at - now() FROM {SCHEMA}.lease WHERE env = %s AND expires_at >= now()",
            (env,),
        ).fetchone()
        if found is not None:
            raise LockHeld(_lease(found[:6]), found[6])
        # The holder released, or its lease ran out, between the two statements: try again.
    raise RuntimeError(f"could not acquire the release lock on {env!r}: it changed hands {_ACQUIRE_ATTEMPTS} times")


def renew(conn: psycopg.Connection[Any], lease: Lease, ttl_seconds: float) -> Lease:
    """Extends our lease to now + ttl_seconds, only while it is still ours and unexpired; else LockLost."""
    _require_autocommit(conn)
    _require_ttl(ttl_seconds)
    row = conn.execute(
        f"""UPDATE {SCHEMA}.lease SET expires_at = now() + make_interval(secs => %s)
            WHERE env = %s AND token = %s AND expires_at >= now() RETURNING {_COLUMNS}""",
        (ttl_seconds, lease.env, lease.token),
    ).fetchone()
    if row is None:
        raise _lost(conn, lease, "could not renew")
    return _lease(row)


def check(conn: psycopg.Connection[Any], lease: Lease) -> None:
    """Raises LockLost unless our token still holds an unexpired lease (call before each mutating step)."""
    _require_autocommit(conn)
    row = conn.execute(
        f"SELECT 1 FROM {SCHEMA}.lease WHERE env = %s AND token = %s AND expires_at >= now()",
        (lease.env, lease.token),
    ).fetchone()
    if row is None:
        raise _lost(conn, lease, "no longer holding")


def release(conn: psycopg.Connection[Any], lease: Lease) -> bool:
    """Deletes our own lease row; False when it was no longer ours (someone else's row is never touched)."""
    _require_autocommit(conn)
    row = conn.execute(
        f"DELETE FROM {SCHEMA}.lease WHERE env = %s AND token = %s RETURNING token", (lease.env, lease.token)
    ).fetchone()
    return row is not None


def force_unlock(conn: psycopg.Connection[Any], env: str) -> Lease | None:
    """Removes whatever lease exists for `env` (expired or not) and returns it; the caller records who and why."""
    _require_autocommit(conn)
    row = conn.execute(f"DELETE FROM {SCHEMA}.lease WHERE env = %s RETURNING {_COLUMNS}", (env,)).fetchone()
    return _lease(row) if row is not None else None


def current(conn: psycopg.Connection[Any], env: str) -> Lease | None:
    """The unexpired lease on `env`, if any."""
    _require_autocommit(conn)
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM {SCHEMA}.lease WHERE env = %s AND expires_at >= now()", (env,)
    ).fetchone()
    return _lease(row) if row is not None else None


class Heartbeat:
    """Keeps a lease alive from a daemon thread, renewing every ttl/3 seconds on its own connection.

    The engine checks `.lost` (or calls `raise_if_lost()`) before each mutating step. `.lost` becomes True when a
    renewal is refused (LockLost: expired or taken over) or when no renewal has succeeded for a whole TTL (the
    database unreachable: the lease may have expired). A transient error is retried and kept in `.error`.
    Leaving the context stops renewing; it does not release the lease (call `release()` for that).
    """

    def __init__(self, conninfo: str, lease: Lease, ttl_seconds: float, *, interval: float | None = None) -> None:
        _require_ttl(ttl_seconds)
        self.conninfo = conninfo
        self.lease = lease
        self.ttl_seconds = ttl_seconds
        self.interval = interval if interval is not None else ttl_seconds / 3
        if not 0 < self.interval < ttl_seconds:
            raise ValueError(f"heartbeat interval must be between 0 and the TTL ({ttl_seconds} s), not {interval}")
        self.lost = False
        self.error: BaseException | None = None
        self.renewals = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[Any] | None = None

    def __enter__(self) -> Heartbeat:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("heartbeat already started")
        self._conn = psycopg.connect(self.conninfo, autocommit=True)  # fail here, loudly, if unreachable
        self._thread = threading.Thread(target=self._run, name=f"lease-heartbeat-{self.lease.env}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(self.ttl_seconds, 5.0))

    def raise_if_lost(self) -> None:
        if self.lost:
            if isinstance(self.error, LockLost):
                raise self.error
            raise LockLost(self.lease, f"the release lock on {self.lease.env!r} was lost: {self.error}") from (
                self.error
            )

    def _run(self) -> None:
        last_ok = time.monotonic()  # when the last successful renewal was sent: the lease runs at least ttl from it
        delay = self.interval
        try:
            while not self._stop.wait(delay):
                sent = time.monotonic()
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5)
                    self.lease = renew(self._conn, self.lease, self.ttl_seconds)
                except LockLost as exc:
                    self.error, self.lost = exc, True
                    return
                except Exception as exc:  # unreachable database and the like: retry until a TTL has passed
                    self.error = exc
                    self._close()
                    if time.monotonic() - last_ok >= self.ttl_seconds:
                        self.lost = True
                        return
                    delay = min(self.interval, 0.5)
                else:
                    last_ok, delay = sent, self.interval
                    self.renewals += 1
        finally:
            self._close()

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


def _lost(conn: psycopg.Connection[Any], lease: Lease, what: str) -> LockLost:
    row = conn.execute(
        f"SELECT {_COLUMNS}, expires_at >= now() FROM {SCHEMA}.lease WHERE env = %s", (lease.env,)
    ).fetchone()
    ours = f"{what} the release lock on {lease.env!r} (token {lease.token})"
    if row is None:
        return LockLost(lease, f"{ours}: the lease is gone (expired or force-unlocked) and no one holds it now")
    found, live = _lease(row[:6]), bool(row[6])
    if found.token == lease.token:
        return LockLost(lease, f"{ours}: our lease expired at {_fmt(found.expires_at)}")
    if live:
        return LockLost(lease, f"{ours}: our lease expired and {found.describe()} holds it now", found)
    return LockLost(lease, f"{ours}: our lease was taken over by {found.describe()}, which has expired too")


def _lease(row: Any) -> Lease:
    env, owner, token, reason, acquired_at, expires_at = row
    return Lease(env, owner, int(token), reason, acquired_at.astimezone(UTC), expires_at.astimezone(UTC))


def _fmt(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _require_ttl(ttl_seconds: float) -> None:
    if not ttl_seconds > 0:
        raise ValueError(f"ttl_seconds must be positive, not {ttl_seconds!r}")


def _require_autocommit(conn: psycopg.Connection[Any]) -> None:
    if not conn.autocommit or conn.info.transaction_status != pq.TransactionStatus.IDLE:
        raise ValueError("the release lock needs a psycopg connection with autocommit=True, outside any transaction")
