"""Schema migrations: Alembic under a PostgreSQL advisory lock, in one transaction, verified.

Every upgrade or downgrade runs inside a single transaction (PostgreSQL has transactional DDL) that
also holds the migration advisory lock and re-verifies every applied revision before committing, so a
migration either lands whole and verified or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from app.db.urls import sqlalchemy_url

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# "golive" in ASCII: the key every controller and host agrees on.
MIGRATION_LOCK_KEY = 0x676F6C697665


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class MigrationResult:
    before: str | None
    after: str | None
    verified: tuple[str, ...]


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def _current(connection: Connection) -> str | None:
    exists = connection.execute(text("SELECT to_regclass('public.alembic_version')")).scalar()
    if exists is None:
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _verify(connection: Connection) -> tuple[str, ...]:
    current = _current(connection)
    if current is None:
        return ()
    script = ScriptDirectory.from_config(_config())
    verified = []
    for revision in reversed(list(script.iterate_revisions(current, "base"))):
        verify = getattr(revision.module, "verify", None)
        if verify is None:
            raise MigrationError(f"revision {revision.revision} has no verify step")
        verify(connection)
        verified.append(revision.revision)
    return tuple(verified)


@contextmanager
def _locked_transaction(url: str, lock_timeout_ms: int, statement_timeout_ms: int) -> Iterator[Connection]:
    engine = create_engine(sqlalchemy_url(url), poolclass=None)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}"))
            connection.execute(text(f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}"))
            try:
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            except OperationalError as exc:
                raise MigrationError(
                    f"another migration holds the lock (waited {lock_timeout_ms} ms); try again later"
                ) from exc
            yield connection
    finally:
        engine.dispose()


def _move(step, url: str, target: str, lock_timeout_ms: int, statement_timeout_ms: int) -> MigrationResult:
    with _locked_transaction(url, lock_timeout_ms, statement_timeout_ms) as connection:
        before = _current(connection)
        step(_config(connection), target)
        verified = _verify(connection)
        return MigrationResult(before, _current(connection), verified)


def migrate(
    url: str, target: str = "head", *, lock_timeout_ms: int = 5000, statement_timeout_ms: int = 60000
) -> MigrationResult:
    return _move(command.upgrade, url, target, lock_timeout_ms, statement_timeout_ms)


def downgrade(
    url: str, target: str, *, lock_timeout_ms: int = 5000, statement_timeout_ms: int = 60000
) -> MigrationResult:
    return _move(command.downgrade, url, target, lock_timeout_ms, statement_timeout_ms)


def current(url: str) -> str | None:
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as connection:
            return _current(connection)
    finally:
        engine.dispose()


def verify(url: str) -> MigrationResult:
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as connection:
            revision = _current(connection)
            return MigrationResult(revision, revision, _verify(connection))
    finally:
        engine.dispose()
