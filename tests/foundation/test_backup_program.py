"""foundation/backups/dumps run as the db host runs it: its modules copied into a folder of their own and started
by the role's launcher (as roles/backups installs them), beside its settings file, as a program (a subprocess)
against the real embedded PostgreSQL, reached as libpq's defaults say (the host: the local socket as postgres).
Under this venv's Python and under Debian 12's python3 with Debian's python3-psycopg — the db host's own
interpreter and library, where nothing of golive but the copied folder can be imported. Its answers are read with
the parser the controller uses (foundation/backups/on_host.py); its counts are the controller's.
The program on the lab's real db host: tests/release/test_lab_backup.py."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
import pytest

from app.db import migrator
from foundation.backups import dumps
from foundation.backups.taken import Taken
from tests.support.backup_program import Host, add_payments, install, interpreter

PAYMENTS = 7


@pytest.fixture(scope="module", params=["venv", "debian"])
def python(request: pytest.FixtureRequest) -> tuple[str, dict[str, str]]:
    return interpreter(request.param)


@pytest.fixture
def live(database_factory) -> str:
    url = database_factory("program")
    migrator.migrate(url)
    add_payments(url, PAYMENTS)
    return url


@pytest.fixture
def host(python: tuple[str, dict[str, str]], live: str, tmp_path: Path) -> Host:
    interpreter, extra = python
    return install(tmp_path, live, interpreter, extra)


def _count(url: str, table: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        return int(row[0])


def _exists(url: str, database: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone() is not None


def test_release_answers_the_controller_with_the_controllers_counts(host: Host, tmp_path: Path) -> None:
    answer = host.answer("release")
    taken = Taken.from_summary(answer, host="db")
    # The controller's own take of the same database: the same tables, the same counts.
    on_controller = dumps.take(host.url, tmp_path / "controller")
    assert (taken.tables, taken.rows) == (len(on_controller.row_counts), sum(on_controller.row_counts.values()))
    assert on_controller.row_counts["payments"] == PAYMENTS
    written = dumps.find(host.folder, taken.id)
    assert written.row_counts == on_controller.row_counts
    assert written.sha256 == taken.sha256 == answer["sha256"] and written.size == taken.size
    assert dumps.prove(written, host.url) == written.row_counts  # and the controller proves the host's dump
    settings = json.loads(host.settings.read_text())
    assert not _exists(host.url, settings["scratch_database"])

    listed = host.run("list")
    assert listed.stdout.splitlines() == [str(host.folder / f"{taken.id}.dump")]
    assert host.answer("list", "--json") == {"backups": [written.summary()]}
    tested = host.run("restore-test")
    assert tested.returncode == 0 and f"{taken.id} restores: " in tested.stderr and "counts match" in tested.stderr


def test_verify_and_prove_answer_the_controller(host: Host) -> None:
    first, second = host.answer("release"), host.answer("release")
    assert host.answer("verify") == {"verified": {first["id"]: None, second["id"]: None}}
    assert host.answer("prove", "--sha256", first["sha256"], "--", first["id"]) == first
    settings = json.loads(host.settings.read_text())
    assert not _exists(host.url, settings["scratch_database"])

    damaged = host.folder / f"{first['id']}.dump"
    damaged.write_bytes(damaged.read_bytes()[:100])
    verified = host.answer("verify")["verified"]
    assert verified[second["id"]] is None and verified[first["id"]].startswith("checksum mismatch (file ")
    assert host.answer("verify", "--", second["id"]) == {"verified": {second["id"]: None}}
    refused = host.run("prove", "--", first["id"])
    assert refused.returncode == 1 and "prove failed: " in refused.stderr and "checksum mismatch" in refused.stderr
    recorded = host.run("prove", "--sha256", "ab" * 32, "--", second["id"])
    assert recorded.returncode == 1 and "is not the one recorded" in recorded.stderr
    for command in ("prove", "verify"):
        unknown = host.run(command, "--", "20000101T000000Z-000000")
        assert unknown.returncode == 2 and "no backup '20000101T000000Z-000000' in " in unknown.stderr, unknown.stderr


def test_restore_over_the_live_database_keeps_what_it_replaced(host: Host) -> None:
    taken = host.answer("release")
    with psycopg.connect(host.url, autocommit=True) as conn:
        conn.execute("DELETE FROM payments")
        conn.execute("CREATE TABLE golive_restore_probe (x int)")

    restored = host.answer("restore", "--sha256", taken["sha256"], "--", taken["id"])

    assert _count(host.url, "payments") == PAYMENTS
    with psycopg.connect(host.url, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('golive_restore_probe')").fetchone() == (None,)
    assert {key: restored[key] for key in ("id", "sha256", "rows", "into")} == {
        "id": taken["id"],
        "sha256": taken["sha256"],
        "rows": taken["rows"],
        "into": None,
    }
    kept = dumps.find(host.folder, restored["replaced"])
    assert kept.row_counts["payments"] == 0 and kept.row_counts["golive_restore_probe"] == 0


def test_restore_into_a_new_database(host: Host) -> None:
    taken = host.answer("release")
    name = f"golive_restored_{uuid.uuid4().hex[:6]}"
    restored = host.answer("restore", "--into", name, taken["id"])
    assert restored["into"] == name and restored["replaced"] is None
    assert _count(host.url.replace(f"/{dumps.target(host.url).dbname}?", f"/{name}?"), "payments") == PAYMENTS
    again = host.run("restore", "--into", name, taken["id"])
    assert again.returncode == 1 and f"database '{name}' already exists" in again.stderr
    with psycopg.connect(host.url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}"')


def test_a_forged_checksum_or_a_path_changes_nothing(host: Host) -> None:
    taken = host.answer("release")
    with psycopg.connect(host.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE golive_restore_probe (x int)")
    manifest = host.folder / f"{taken['id']}.json"
    forged = {**json.loads(manifest.read_text()), "sha256": "0" * 64}
    manifest.write_text(json.dumps(forged))

    refused = host.run("restore", taken["id"])
    assert refused.returncode == 1, refused.stderr
    assert f"{taken['id']} not restored, the database is as it was" in refused.stderr
    assert "checksum mismatch" in refused.stderr
    # Not even a dump of the live database was taken: the sha256 is checked first.
    assert [path.name for path in sorted(host.folder.glob("*.json"))] == [manifest.name]

    recorded = host.run("restore", "--sha256", "ab" * 32, taken["id"])
    assert recorded.returncode == 1 and "is not the one recorded" in recorded.stderr

    for name in ("../../etc/passwd", str(host.folder / f"{taken['id']}.dump"), "golive-20000101T000000Z"):
        not_an_id = host.run("restore", "--", name)
        assert not_an_id.returncode == 2 and "is not a backup id" in not_an_id.stderr, not_an_id.stderr
    with psycopg.connect(host.url, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('golive_restore_probe')").fetchone() == ("golive_restore_probe",)
    assert _count(host.url, "payments") == PAYMENTS


def test_dump_keeps_the_newest_and_metric_publishes_the_newest(host: Host) -> None:
    host.write_settings(keep=2)
    for _ in range(3):
        done = host.run("dump")
        assert done.returncode == 0, done.stderr
    kept = dumps.list_backups(host.folder)
    assert len(kept) == 2
    assert host.run("metric").returncode == 0
    published = (host.metrics / dumps.METRIC_FILE).read_text()
    assert f"{dumps.METRIC} {int(kept[0].created_at.timestamp())}\n" in published
    assert [path.name for path in host.metrics.iterdir()] == [dumps.METRIC_FILE]

    host.write_settings(metrics_folder="")
    (host.metrics / dumps.METRIC_FILE).unlink()
    assert host.run("metric").returncode == 0 and list(host.metrics.iterdir()) == []


def test_settings_are_checked_naming_each_problem(host: Host) -> None:
    assert host.answer("settings")["keep"] == 3
    host.write_settings(keep=0, scratch_database=dumps.target(host.url).dbname, extra=1, folder="relative")
    refused = host.run("settings")
    assert refused.returncode == 2
    for problem in (
        "unknown setting 'extra'",
        "keep must be at least 1, not 0",
        "database and scratch_database must be two names",
        "folder must be an absolute path, not 'relative'",
    ):
        assert problem in refused.stderr, refused.stderr
    host.settings.unlink()
    missing = host.run("dump")
    assert missing.returncode == 2 and f"cannot read {host.settings}" in missing.stderr
    assert not host.folder.exists()
