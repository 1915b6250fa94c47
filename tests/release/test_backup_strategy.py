"""release/backups/strategy.py, the one way the engine and `fab backup`/`fab restore` take and restore a backup:
on the controller unless the environment names a `backup_host`, then on that host by its golive-backup — here
the real program (foundation/backups/dumps.py copied with its settings, as roles/backups installs it) run through
a transport on this machine standing in for the db host. Both ways, on a real PostgreSQL: the same counts, the
same record, the restore refused for a backup that is not the one recorded."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
import yaml

from app.db import migrator
from foundation.backups import dumps
from foundation.environment import ENVIRONMENTS_DIR, parse_environment
from foundation.state import StateLayout
from foundation.transport import CommandResult, LocalTransport
from release.backups import on_host, strategy
from tests.support.backup_program import Host, add_payments, install

PAYMENTS = 9


class DbHostHere(LocalTransport):
    """The db host's shell, on this machine: `runuser -u postgres --` left out (the embedded server trusts its
    socket) and the program at on_host.SCRIPT is the installed copy with its settings."""

    def __init__(self, host: Host):
        super().__init__("db")
        self.program = host
        self.commands: list[str] = []

    def run(self, command: str, **kwargs: Any) -> CommandResult:
        self.commands.append(command)
        here = shlex.join([*self.program.argv, "--config", str(self.program.settings)])
        local = command.removeprefix("runuser -u postgres -- ").replace(on_host.SCRIPT, here, 1)
        return super().run(local, env=self.program.env, **kwargs)


@pytest.fixture
def live(database_factory) -> str:
    url = database_factory("strategy")
    migrator.migrate(url)
    add_payments(url, PAYMENTS)
    return url


def _environment(name: str, **changes: Any):
    return parse_environment({**yaml.safe_load((ENVIRONMENTS_DIR / f"{name}.yml").read_text()), **changes})


def _count(url: str, table: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        return int(row[0])


def test_the_environment_says_where(tmp_path: Path):
    state = StateLayout(tmp_path)
    db = SimpleNamespace(host="db")
    lab = _environment("lab")
    on_db = strategy.for_environment(lab, SimpleNamespace(transports={"db": db}), "postgresql://x", state)
    assert isinstance(on_db, strategy.OnHost) and on_db.transport is db and on_db.where == "on db"
    local = strategy.for_environment(_environment("local"), SimpleNamespace(transports={}), "postgresql://x", state)
    assert local == strategy.OnController("postgresql://x", state.backups("local"))
    assert local.where == "on the controller"
    no_host = strategy.for_environment(_environment("lab", backup_host=None), SimpleNamespace(), "u", state)
    assert isinstance(no_host, strategy.OnController)


def test_both_ways_take_the_same_counts_and_restore(live: str, tmp_path: Path):
    transport = DbHostHere(install(tmp_path / "db", live, sys.executable))
    on_db = strategy.OnHost(transport)
    on_controller = strategy.OnController(live, tmp_path / "controller")

    from_db = on_db.take()
    from_controller = on_controller.take()

    assert (from_db.tables, from_db.rows) == (from_controller.tables, from_controller.rows)
    assert from_db.host == "db" and from_controller.host is None
    assert set(from_db.record()) == {*from_controller.record(), "host"}
    assert (
        dumps.find(transport.program.folder, from_db.id).row_counts
        == dumps.find(tmp_path / "controller", from_controller.id).row_counts
    )
    assert (transport.program.metrics / dumps.METRIC_FILE).is_file()  # the metric, as root after the release

    for backups, taken in ((on_db, from_db), (on_controller, from_controller)):
        with psycopg.connect(live, autocommit=True) as conn:
            conn.execute("DELETE FROM payments")
        with pytest.raises((dumps.BackupUnusable, on_host.HostBackupFailed), match="is not the one recorded"):
            backups.restore(taken.id, sha256="0" * 64)
        assert _count(live, "payments") == 0

        restored = backups.restore(taken.id, sha256=taken.sha256)

        assert _count(live, "payments") == PAYMENTS
        assert (restored["id"], restored["rows"], restored["into"]) == (taken.id, taken.rows, None)
        assert restored["replaced"], "what the restore replaced is kept"
