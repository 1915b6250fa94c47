"""foundation/backups/strategy.py, the one way the engine, `fab backup`/`fab restore` and the checks reach an
environment's backups: on the controller unless the environment names a `backup_host`, then on that host by its
golive-backup — here the real program (foundation/backups/dumps installed with its settings as roles/backups
installs it) run through a transport on this machine standing in for the db host. Both ways, on a real
PostgreSQL: the same counts, the same record, the same listing; damage found, proofs made, the restore refused for
a backup that is not the one recorded."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
import yaml

from app.db import migrator
from foundation.backups import dumps, strategy
from foundation.environment import ENVIRONMENTS_DIR, parse_environment
from foundation.state import StateLayout
from tests.support.backup_program import DbHostHere, add_payments, install
from tests.support.lab_outputs import lab_state_in

PAYMENTS = 9


@pytest.fixture
def live(database_factory) -> str:
    url = database_factory("strategy")
    migrator.migrate(url)
    add_payments(url, PAYMENTS)
    return url


@pytest.fixture
def both_ways(live: str, tmp_path: Path) -> tuple[strategy.OnHost, strategy.OnController]:
    program = install(tmp_path / "db", live, sys.executable)
    return strategy.OnHost(DbHostHere(program)), strategy.OnController(live, tmp_path / "controller")


def _environment(name: str, state: StateLayout, **changes: Any):
    return parse_environment({**yaml.safe_load((ENVIRONMENTS_DIR / f"{name}.yml").read_text()), **changes}, state=state)


def _count(url: str, table: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        return int(row[0])


def test_the_environment_says_where(tmp_path: Path):
    state = lab_state_in(tmp_path)  # the lab's stack outputs in it, as `fab lab.up` writes them
    db = SimpleNamespace(host="db")
    lab = _environment("lab", state)
    on_db = strategy.for_environment(lab, SimpleNamespace(transports={"db": db}), "postgresql://x", state)
    assert isinstance(on_db, strategy.OnHost) and on_db.transport is db and on_db.where == "on db"
    assert on_db.place == "golive-backup's folder on db"
    local = strategy.for_environment(
        _environment("local", state), SimpleNamespace(transports={}), "postgresql://x", state
    )
    assert local == strategy.OnController("postgresql://x", state.backups("local"))
    assert local.where == "on the controller" and local.place == str(state.backups("local"))
    no_host = strategy.for_environment(_environment("lab", state, backup_host=None), SimpleNamespace(), "u", state)
    assert isinstance(no_host, strategy.OnController)


def test_both_ways_take_the_same_counts_and_restore(both_ways, live: str):
    on_db, on_controller = both_ways
    from_db = on_db.take()
    from_controller = on_controller.take()

    assert (from_db.tables, from_db.rows) == (from_controller.tables, from_controller.rows)
    assert from_db.host == "db" and from_controller.host is None
    assert set(from_db.record()) == {*from_controller.record(), "host"}
    assert (
        dumps.find(on_db.transport.program.folder, from_db.id).row_counts
        == dumps.find(on_controller.folder, from_controller.id).row_counts
    )
    assert (on_db.transport.program.metrics / dumps.METRIC_FILE).is_file()  # the metric, as root after the release

    for backups, taken in ((on_db, from_db), (on_controller, from_controller)):
        with psycopg.connect(live, autocommit=True) as conn:
            conn.execute("DELETE FROM payments")
        with pytest.raises(strategy.FAILURES, match="is not the one recorded"):
            backups.restore(taken.id, sha256="0" * 64)
        assert _count(live, "payments") == 0

        restored = backups.restore(taken.id, sha256=taken.sha256)

        assert _count(live, "payments") == PAYMENTS
        assert (restored["id"], restored["rows"], restored["into"]) == (taken.id, taken.rows, None)
        assert restored["replaced"], "what the restore replaced is kept"


def test_both_ways_list_find_verify_and_prove_alike(both_ways):
    for backups in both_ways:
        assert backups.list() == [] and backups.verify() == {}
        with pytest.raises(dumps.BackupNotFound, match=f"there are no backups in {backups.place}"):
            backups.find("20000101T000000Z-000000")
        older, newer = backups.take(), backups.take()

        assert backups.list() == [newer, older]  # newest first, each as the take answered it
        assert newer.created_at.tzinfo is not None and newer.created_at <= datetime.now(UTC)
        assert backups.find(older.id) == older
        with pytest.raises(dumps.BackupNotFound, match=f"no backup '20000101T000000Z-000000' in {backups.place}"):
            backups.find("20000101T000000Z-000000")
        with pytest.raises(dumps.BackupNotFound, match="is not a backup id"):
            backups.find("../../etc/passwd")
        assert backups.verify() == {older.id: None, newer.id: None}
        assert backups.prove(older.id, sha256=older.sha256) == older

        folder = backups.transport.program.folder if isinstance(backups, strategy.OnHost) else backups.folder
        damaged = folder / f"{older.id}.dump"
        damaged.write_bytes(damaged.read_bytes()[:-10])

        verified = backups.verify()
        assert verified[newer.id] is None and "checksum mismatch" in str(verified[older.id])
        assert backups.verify(newer.id) == {newer.id: None}
        with pytest.raises(strategy.FAILURES, match="checksum mismatch"):
            backups.prove(older.id)
        with pytest.raises(strategy.FAILURES, match="is not the one recorded"):
            backups.prove(newer.id, sha256="ab" * 32)


def test_the_controller_without_a_database_only_lists(tmp_path: Path, live: str):
    taken = strategy.OnController(live, tmp_path).take()
    blind = strategy.OnController(None, tmp_path)
    assert blind.list() == [taken] and blind.verify() == {taken.id: None}
    refusal = f"^no database given: the backups in {tmp_path} can be listed, not taken, proven or restored$"
    for act in (blind.take, lambda: blind.prove(taken.id), lambda: blind.restore(taken.id)):
        with pytest.raises(strategy.NoDatabase, match=refusal):
            act()
