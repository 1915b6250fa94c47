"""Migrations on a real database: the full round trip, verification that catches drift, the advisory
lock, and the command line."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

from app.db import migrator
from app.migrations.checks import SchemaVerificationError
from foundation.repository import REPO_ROOT


@pytest.fixture
def empty_db(database_factory) -> str:
    return database_factory("migrations")


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {row[0] for row in rows}


def test_upgrade_verify_downgrade_upgrade_round_trip(empty_db):
    head = migrator.head_revision()

    up = migrator.migrate(empty_db)
    assert (up.before, up.after, up.verified[-1]) == (None, head, head)
    assert {"payments", "payment_events", "stk_callbacks", "feature_flags", "api_keys"} <= _tables(empty_db)
    assert migrator.verify(empty_db).verified[-1] == head

    down = migrator.downgrade(empty_db, "base")
    assert (down.before, down.after) == (head, None)
    assert _tables(empty_db) <= {"alembic_version"}

    again = migrator.migrate(empty_db)
    assert again.after == head
    assert migrator.current(empty_db) == head


def test_a_second_migrate_is_a_no_op(empty_db):
    migrator.migrate(empty_db)
    second = migrator.migrate(empty_db)
    assert second.before == second.after == migrator.head_revision()


def test_verify_catches_a_schema_that_drifted(empty_db):
    migrator.migrate(empty_db)
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute("ALTER TABLE payments DROP COLUMN mpesa_receipt")
    with pytest.raises(SchemaVerificationError, match="mpesa_receipt"):
        migrator.verify(empty_db)


def test_a_migration_that_cannot_get_the_lock_gives_up_cleanly(empty_db):
    with psycopg.connect(empty_db, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (migrator.MIGRATION_LOCK_KEY,))
        with pytest.raises(migrator.MigrationError, match="another migration holds the lock"):
            migrator.migrate(empty_db, lock_timeout_ms=200)
    assert migrator.current(empty_db) is None  # nothing half-applied


def _cli(*args: str, url: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLIVE_")}
    if url:
        env["GOLIVE_DATABASE_URL"] = url
    return subprocess.run([sys.executable, "-m", "app.db", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip


def test_the_command_line_round_trip(empty_db):
    assert _cli("current", url=empty_db).stdout.strip() == "none"
    verify_empty = _cli("verify", url=empty_db)
    assert verify_empty.returncode == 1
    assert "no schema yet" in verify_empty.stderr

    migrate = _cli("migrate", url=empty_db)
    assert migrate.returncode == 0, migrate.stderr
    assert f"-> {migrator.head_revision()}" in migrate.stdout
    assert _cli("verify", url=empty_db).returncode == 0
    assert _cli("downgrade", "--to", "base", url=empty_db).returncode == 0
    assert _cli("current", url=empty_db).stdout.strip() == "none"


def test_the_command_line_names_what_is_missing():
    result = _cli("current", url=None)
    assert result.returncode == 1
    assert "GOLIVE_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_command_line_reports_an_unreachable_database(tmp_path):
    result = _cli("current", url=f"postgresql://nobody@/golive?host={tmp_path}")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "connection" in result.stderr.lower()
