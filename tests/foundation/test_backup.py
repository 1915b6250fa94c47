"""Backups on a real PostgreSQL (foundation/backups/dumps, imported as the controller does): taken in one
snapshot, proven by a restore, restored over the live database (what it held kept first) or into a new one;
damaged dumps and names that are no backup id are refused and leave nothing behind; files verified against their
manifests; the metric file. The same package run as the db host's golive-backup program:
tests/foundation/test_backup_program.py; what it may import: tests/foundation/test_backup_package.py."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from app.db import migrator
from foundation.backups import dumps as backups
from foundation.backups.dumps import scratch as scratch_databases
from foundation.backups.dumps import taking, tools

PAYMENTS = 12


def _insert_payments(url: str, n: int, *, start: int = 0) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(start, start + n):
            payment = uuid.uuid4()
            conn.execute(
                """INSERT INTO payments (id, idempotency_key, request_fingerprint, msisdn, package_id, amount_kes,
                                         wallet_address, state)
                   VALUES (%s, %s, 'fp', %s, 'usdt-5', 650, %s, 'initiated')""",
                [payment, f"key-{i}", f"2547{i:08d}", "0x" + f"{i:040x}"],
            )
            conn.execute(
                "INSERT INTO payment_events (payment_id, to_state, reason) VALUES (%s, 'initiated', 'test')", [payment]
            )


@pytest.fixture
def service_db(database_factory) -> str:
    """A migrated service database with a few payments and an extra package."""
    url = database_factory("backup")
    migrator.migrate(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO packages (id, name, price_kes, usdt_amount) VALUES ('usdt-1', '1 USDT', 130, 1)")
    _insert_payments(url, PAYMENTS)
    return url


def _count(url: str, table: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        return int(row[0])


def _databases(pg_server: str, like: str) -> list[str]:
    with psycopg.connect(pg_server, autocommit=True) as conn:
        return [row[0] for row in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [like])]


def _rewrite_manifest(backup: backups.Backup, **changes: object) -> backups.Backup:
    manifest_path = backup.path.with_suffix(".json")
    manifest = json.loads(manifest_path.read_text())
    manifest.update(changes)
    manifest_path.write_text(json.dumps(manifest))
    return backups.find(backup.path.parent, backup.id)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_tool_versions_are_ints_and_pg_dump_is_not_older(pg_server: str) -> None:
    client, server = backups.tool_versions(pg_server)
    assert isinstance(client, int) and isinstance(server, int)
    assert server >= 12
    assert client >= server


def test_take_and_prove(service_db: str, pg_server: str, tmp_path: Path) -> None:
    taken = backups.take(service_db, tmp_path / "backups")

    assert taken.path == tmp_path / "backups" / f"{taken.id}.dump"
    assert taken.path.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    assert taken.sha256 == _sha256(taken.path)
    assert taken.size == taken.path.stat().st_size
    assert taken.database == urlsplit(service_db).path.lstrip("/")
    assert taken.server_major >= 12 and taken.client_major >= taken.server_major
    assert taken.created_at.tzinfo is not None
    assert taken.row_counts["payments"] == PAYMENTS
    assert taken.row_counts["payment_events"] == PAYMENTS
    assert taken.row_counts["packages"] == 5
    assert taken.row_counts["alembic_version"] == 1
    # Every table of the service's schema is counted.
    with psycopg.connect(service_db) as conn:
        tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert set(taken.row_counts) == tables

    manifest = json.loads((tmp_path / "backups" / f"{taken.id}.json").read_text())
    assert manifest["sha256"] == taken.sha256
    assert manifest["row_counts"] == taken.row_counts
    assert manifest["file"] == taken.path.name
    assert sorted(path.name for path in (tmp_path / "backups").iterdir()) == sorted(
        [f"{taken.id}.dump", f"{taken.id}.json"]
    )  # no partial files left

    # Every payment is in there: the owner only.
    assert stat.S_IMODE((tmp_path / "backups").stat().st_mode) == 0o700
    for path in (tmp_path / "backups").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert taken.summary() == {
        "id": taken.id,
        "sha256": taken.sha256,
        "size": taken.size,
        "tables": len(tables),
        "rows": sum(taken.row_counts.values()),
        "created_at": taken.created_at.isoformat(),
    }

    assert backups.prove(taken, service_db) == taken.row_counts
    assert _databases(pg_server, "golive_prove_%") == []


def test_counts_and_dump_share_one_snapshot(service_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows written between the count and pg_dump are in neither; rows deleted after the dump don't matter."""
    real_dump = taking._dump

    def dump_after_concurrent_writes(*args, **kwargs):
        _insert_payments(service_db, 5, start=100)
        with psycopg.connect(service_db, autocommit=True) as conn:
            conn.execute("DELETE FROM packages WHERE id = 'usdt-1'")
        real_dump(*args, **kwargs)

    monkeypatch.setattr(taking, "_dump", dump_after_concurrent_writes)
    taken = backups.take(service_db, tmp_path)
    monkeypatch.undo()

    assert _count(service_db, "payments") == PAYMENTS + 5
    assert taken.row_counts["payments"] == PAYMENTS
    assert taken.row_counts["packages"] == 5
    with psycopg.connect(service_db, autocommit=True) as conn:
        conn.execute("DELETE FROM payment_events")
        conn.execute("DELETE FROM payments")
    assert backups.prove(taken, service_db) == taken.row_counts


def test_release_schema_is_left_out(service_db: str, tmp_path: Path) -> None:
    with psycopg.connect(service_db, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA golive_release")
        conn.execute("CREATE TABLE golive_release.lease (owner text)")
        conn.execute("INSERT INTO golive_release.lease VALUES ('someone')")
        conn.execute("CREATE SCHEMA reports")
        conn.execute("CREATE TABLE reports.daily (day date)")
        conn.execute("INSERT INTO reports.daily VALUES ('2024-01-01'), ('2024-01-02')")

    taken = backups.take(service_db, tmp_path)

    assert not any(key.startswith("golive_release") or key == "lease" for key in taken.row_counts)
    assert taken.row_counts["reports.daily"] == 2
    listing = subprocess.run(
        [str(backups.find_tool("pg_restore")), "--list", str(taken.path)], capture_output=True, text=True, check=True
    ).stdout
    assert "golive_release" not in listing
    assert "reports daily" in listing
    assert backups.prove(taken, service_db)["reports.daily"] == 2


def test_corrupt_dump_is_unusable(service_db: str, pg_server: str, tmp_path: Path) -> None:
    taken = backups.take(service_db, tmp_path)
    data = bytearray(taken.path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
    taken.path.write_bytes(bytes(data))

    with pytest.raises(backups.BackupUnusable, match="checksum mismatch"):
        backups.prove(taken, service_db)
    # Over the live database: refused before anything, the database as it was, no dump of it taken either.
    with psycopg.connect(service_db, autocommit=True) as conn:
        conn.execute("DELETE FROM payment_events")
    with pytest.raises(backups.BackupUnusable, match="checksum mismatch"):
        backups.restore(taken, service_db)
    assert _count(service_db, "payment_events") == 0 and _count(service_db, "payments") == PAYMENTS
    assert [backup.id for backup in backups.list_backups(tmp_path)] == [taken.id]

    # Someone "fixed" the manifest: the restore itself finds the damage.
    forged = _rewrite_manifest(taken, sha256=_sha256(taken.path))
    with pytest.raises(backups.BackupUnusable, match="pg_restore failed: ") as failure:
        backups.prove(forged, service_db)
    assert forged.id in str(failure.value)
    assert _databases(pg_server, "golive_prove_%") == []


def test_truncated_dump_is_unusable_and_restore_changes_nothing(
    service_db: str, pg_server: str, tmp_path: Path
) -> None:
    taken = backups.take(service_db, tmp_path)
    taken.path.write_bytes(taken.path.read_bytes()[: taken.size // 2])
    with pytest.raises(backups.BackupUnusable, match="checksum mismatch"):
        backups.prove(taken, service_db)

    forged = _rewrite_manifest(taken, sha256=_sha256(taken.path), size=taken.path.stat().st_size)
    with pytest.raises(backups.BackupUnusable, match="pg_restore failed: "):
        backups.prove(forged, service_db)
    assert _databases(pg_server, "golive_prove_%") == []

    # Over the live database: refused whole, the database is as it was.
    with psycopg.connect(service_db, autocommit=True) as conn:
        conn.execute("DELETE FROM payment_events")
        conn.execute("CREATE TABLE refunds (id int)")
    with pytest.raises(backups.RestoreFailed, match="pg_restore failed: "):
        backups.restore(forged, service_db)
    assert _count(service_db, "payment_events") == 0
    assert _count(service_db, "payments") == PAYMENTS
    assert _count(service_db, "refunds") == 0

    with pytest.raises(backups.RestoreFailed, match="pg_restore failed: "):
        backups.restore(forged, service_db, into="golive_truncated_restore")
    assert _databases(pg_server, "golive_truncated_restore") == []


def test_wrong_row_count_is_named(service_db: str, pg_server: str, tmp_path: Path) -> None:
    taken = backups.take(service_db, tmp_path)
    forged = _rewrite_manifest(taken, row_counts={**taken.row_counts, "payments": PAYMENTS + 2})
    with pytest.raises(
        backups.BackupUnusable, match=f"table payments: {PAYMENTS} rows restored, {PAYMENTS + 2} expected"
    ):
        backups.prove(forged, service_db)
    assert _databases(pg_server, "golive_prove_%") == []

    missing = _rewrite_manifest(taken, row_counts={**taken.row_counts, "refunds": 0})
    with pytest.raises(backups.BackupUnusable, match="table refunds: missing after restore"):
        backups.prove(missing, service_db)


def test_restore_over_the_live_database(service_db: str, tmp_path: Path) -> None:
    with psycopg.connect(service_db, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA golive_release")
        conn.execute("CREATE TABLE golive_release.lease (owner text)")
    taken = backups.take(service_db, tmp_path)

    # After the backup: rows lost, a newer migration's objects, the release's own state moves on.
    with psycopg.connect(service_db, autocommit=True) as conn:
        conn.execute("DELETE FROM payment_events")
        conn.execute("DELETE FROM payments")
        conn.execute("CREATE TYPE refund_state AS ENUM ('open', 'done')")
        conn.execute("CREATE TABLE refunds (id serial PRIMARY KEY, state refund_state)")
        conn.execute("CREATE VIEW paid AS SELECT * FROM payments WHERE state = 'paid'")
        conn.execute("CREATE FUNCTION refund_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM refunds'")
        conn.execute("CREATE SCHEMA reports")
        conn.execute("UPDATE alembic_version SET version_num = '0002'")
        conn.execute("INSERT INTO golive_release.lease VALUES ('the release in progress')")

    answer = backups.restore(taken, service_db)

    assert _count(service_db, "payments") == PAYMENTS
    assert _count(service_db, "payment_events") == PAYMENTS
    assert answer == {
        "id": taken.id,
        "sha256": taken.sha256,
        "tables": len(taken.row_counts),
        "rows": sum(taken.row_counts.values()),
        "into": None,
        "replaced": answer["replaced"],
    }
    # What the restore replaced is a backup of its own, for a person to reconcile: the rows lost, refunds.
    replaced = backups.find(tmp_path, answer["replaced"])
    assert replaced.row_counts["payments"] == 0 and replaced.row_counts["refunds"] == 0
    assert backups.prove(replaced, service_db) == replaced.row_counts
    with psycopg.connect(service_db, autocommit=True) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (migrator.head_revision(),)
        leftovers = conn.execute(
            """SELECT to_regclass('public.refunds'), to_regclass('public.paid'), to_regtype('public.refund_state'),
                      to_regprocedure('public.refund_count()'),
                      (SELECT count(*) FROM pg_namespace WHERE nspname = 'reports')"""
        ).fetchone()
        assert leftovers == (None, None, None, None, 0)
        assert conn.execute("SELECT owner FROM golive_release.lease").fetchall() == [("the release in progress",)]
    # The restored database is the service's schema, verified like after a migration.
    assert migrator.migrate(service_db).after == migrator.head_revision()
    assert backups.prove(backups.take(service_db, tmp_path), service_db) == taken.row_counts


def test_restore_into_a_new_database(service_db: str, pg_server: str, tmp_path: Path) -> None:
    taken = backups.take(service_db, tmp_path)
    name = f"golive_restored_{uuid.uuid4().hex[:8]}"

    backups.restore(taken, service_db, into=name)

    restored = service_db.replace(f"/{taken.database}?", f"/{name}?")
    assert _count(restored, "payments") == PAYMENTS
    assert _count(service_db, "payments") == PAYMENTS
    with pytest.raises(backups.RestoreFailed, match=f"database '{name}' already exists"):
        backups.restore(taken, service_db, into=name)
    assert _count(restored, "payments") == PAYMENTS  # the refusal did not touch it
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}"')


def test_list_and_find(service_db: str, tmp_path: Path) -> None:
    assert backups.list_backups(tmp_path / "none") == []
    with pytest.raises(backups.BackupNotFound, match="no backups in"):
        backups.find(tmp_path, "20240101T000000Z-abcdef")

    first = backups.take(service_db, tmp_path)
    second = backups.take(service_db, tmp_path)
    (tmp_path / "notes.json").write_text('{"not": "a backup"}')

    listed = backups.list_backups(tmp_path)
    assert [backup.id for backup in listed] == [second.id, first.id]
    assert listed[1] == first
    assert backups.find(tmp_path, first.id) == first
    with pytest.raises(backups.BackupNotFound, match=f"no backup '20240101T000000Z-abcdef'.*{second.id}, {first.id}"):
        backups.find(tmp_path, "20240101T000000Z-abcdef")
    # The sha256 a release recorded: another file under the same id is not the backup it proved.
    assert backups.find(tmp_path, first.id, sha256=first.sha256) == first
    with pytest.raises(backups.BackupUnusable, match=f"backup {first.id} is not the one recorded"):
        backups.find(tmp_path, first.id, sha256="0" * 64)


def test_verify_names_what_is_wrong_with_each_file(service_db: str, tmp_path: Path) -> None:
    assert backups.verify(tmp_path) == {}
    whole, damaged, gone = (backups.take(service_db, tmp_path) for _ in range(3))
    with damaged.path.open("r+b") as handle:
        handle.seek(100)
        handle.write(b"garbage!")
    gone.path.unlink()

    verified = backups.verify(tmp_path)

    assert list(verified) == [gone.id, damaged.id, whole.id]  # newest first
    assert verified[whole.id] is None
    actual = _sha256(damaged.path)
    expected = f"checksum mismatch (file {damaged.path.name}: {actual[:16]}…, manifest {damaged.sha256[:16]}…)"
    assert verified[damaged.id] == expected
    assert verified[gone.id] == f"file {gone.path} is missing"
    assert backups.verify(tmp_path, (whole.id,)) == {whole.id: None}
    with pytest.raises(backups.BackupNotFound, match=f"no backup '20240101T000000Z-abcdef' in {tmp_path}"):
        backups.verify(tmp_path, (whole.id, "20240101T000000Z-abcdef"))
    with pytest.raises(backups.BackupNotFound, match="is not a backup id"):
        backups.verify(tmp_path, (str(whole.path),))


@pytest.mark.parametrize(
    "name", ["nope", "../etc/passwd", f"20240101T000000Z-abcdef/../../{'x' * 3}", "/var/backups/golive/x", ""]
)
def test_a_name_that_is_no_backup_id_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(backups.BackupNotFound, match="is not a backup id"):
        backups.find(tmp_path, name)


def test_a_manifest_naming_another_file_is_no_backup(service_db: str, tmp_path: Path) -> None:
    taken = backups.take(service_db, tmp_path)
    outside = tmp_path.parent / f"outside-{taken.id}.dump"
    outside.write_bytes(taken.path.read_bytes())
    forged = {**taken.manifest(), "file": f"../{outside.name}"}
    (tmp_path / f"{taken.id}.json").write_text(json.dumps(forged))
    assert backups.list_backups(tmp_path) == []
    with pytest.raises(backups.BackupNotFound, match="there are no backups"):
        backups.find(tmp_path, taken.id)


def test_missing_tools_are_named(service_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(backups.PG_BIN_VARIABLE, str(tmp_path / "empty"))
    with pytest.raises(backups.ToolMissing, match=f"pg_dump not found in {tmp_path / 'empty'}"):
        backups.take(service_db, tmp_path / "backups")
    with pytest.raises(backups.ToolMissing, match="pg_dump"):
        backups.tool_versions(service_db)
    assert not (tmp_path / "backups").exists() or list((tmp_path / "backups").iterdir()) == []


def test_tools_are_found_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(backups.PG_BIN_VARIABLE, raising=False)
    bundled = tools.pgserver_bin()
    assert bundled is not None
    assert backups.find_tool("pg_dump") == bundled / "pg_dump"

    fake = tmp_path / "bin"
    fake.mkdir()
    tool = fake / "pg_dump"
    tool.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 99.1'\n")
    tool.chmod(0o755)
    monkeypatch.setenv(backups.PG_BIN_VARIABLE, str(fake))
    assert backups.find_tool("pg_dump") == tool
    assert backups.tool_major("pg_dump") == 99

    monkeypatch.delenv(backups.PG_BIN_VARIABLE)
    monkeypatch.setattr(tools, "pgserver_bin", lambda: None)
    monkeypatch.setattr(tools, "SYSTEM_ROOT", tmp_path / "no-such-root")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    with pytest.raises(backups.ToolMissing, match=r"pg_restore not found.*PATH.*GOLIVE_PG_BIN"):
        backups.find_tool("pg_restore")


def test_password_goes_in_a_private_passfile() -> None:
    db = backups.target("postgresql://release:s3:cr\\et@db.example:6543/golive?sslmode=require")
    assert "s3" not in db.conninfo and "cr" not in db.conninfo
    assert "sslmode=require" in db.conninfo and "dbname=golive" in db.conninfo
    assert db.description == "database 'golive' on db.example:6543"
    assert db.with_dbname("scratch").password == "s3:cr\\et"

    with backups.tool_env(db) as env:
        passfile = Path(env["PGPASSFILE"])
        assert stat.S_IMODE(passfile.stat().st_mode) == 0o600
        assert passfile.read_text() == "*:*:*:*:s3\\:cr\\\\et\n"
        assert "PGPASSWORD" not in env
    assert not passfile.exists()

    no_password = backups.target("postgresql://postgres:@/postgres?host=/tmp/sock")
    assert no_password.password is None
    with backups.tool_env(no_password) as env:
        assert env.get("PGPASSFILE") == os.environ.get("PGPASSFILE")


def test_unreachable_database_leaves_nothing(tmp_path: Path) -> None:
    url = f"postgresql://nobody:secret@/nothing?host={tmp_path}&port=1"
    with pytest.raises(backups.BackupFailed, match="cannot connect to database 'nothing'") as failure:
        backups.take(url, tmp_path / "backups")
    assert "secret" not in str(failure.value)
    assert list((tmp_path / "backups").iterdir()) == []


def test_restore_refused_whole_when_what_it_replaces_cannot_be_kept(
    service_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = backups.take(service_db, tmp_path)
    with psycopg.connect(service_db, autocommit=True) as conn:
        conn.execute("DELETE FROM payment_events")
    # Client programs without pg_dump: the dump of the live database cannot be made, so nothing is restored.
    tools = tmp_path / "no-pg-dump"
    tools.mkdir()
    for name in ("pg_restore", "psql"):
        (tools / name).symlink_to(backups.find_tool(name))
    monkeypatch.setenv(backups.PG_BIN_VARIABLE, str(tools))
    with pytest.raises(backups.RestoreFailed, match=r"could not be kept first \(pg_dump not found.*--discard-replaced"):
        backups.restore(taken, service_db)
    assert _count(service_db, "payment_events") == 0
    # Told to go on without it: restored, and no other backup made.
    answer = backups.restore(taken, service_db, keep_replaced=False)
    assert answer["replaced"] is None
    assert _count(service_db, "payment_events") == PAYMENTS
    assert [backup.id for backup in backups.list_backups(tmp_path)] == [taken.id]


def test_keep_leaves_the_newest(service_db: str, tmp_path: Path) -> None:
    taken = [backups.take(service_db, tmp_path, keep=2) for _ in range(3)]
    assert [backup.id for backup in backups.list_backups(tmp_path)] == [taken[2].id, taken[1].id]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        f"{backup.id}{suffix}" for backup in taken[1:] for suffix in (".dump", ".json")
    )
    with pytest.raises(ValueError, match="keep must be at least 1, not 0"):
        backups.take(service_db, tmp_path, keep=0)


def test_proofs_in_one_scratch_database_take_turns(service_db: str, pg_server: str, tmp_path: Path) -> None:
    """The weekly restore test and a release's proof both use the configured scratch database: the second
    waits for the first instead of dropping the database under it."""
    taken = backups.take(service_db, tmp_path)
    scratch = f"golive_scratch_{uuid.uuid4().hex[:8]}"
    proven: list[dict[str, int]] = []
    with psycopg.connect(service_db, autocommit=True) as holder:
        holder.execute(f"SELECT pg_advisory_lock({scratch_databases.SCRATCH_LOCK}, hashtext(%s))", [scratch])
        proof = threading.Thread(target=lambda: proven.append(backups.prove(taken, service_db, scratch=scratch)))
        proof.start()
        time.sleep(1.5)
        assert proof.is_alive() and _databases(pg_server, scratch) == []  # waiting its turn
        holder.execute(f"SELECT pg_advisory_unlock({scratch_databases.SCRATCH_LOCK}, hashtext(%s))", [scratch])
        proof.join(timeout=120)
    assert proven == [taken.row_counts]
    assert _databases(pg_server, scratch) == []


def test_the_scratch_database_is_never_the_database_itself(service_db: str, tmp_path: Path) -> None:
    taken = backups.take(service_db, tmp_path)
    with pytest.raises(backups.BackupUnusable, match=r"the scratch database cannot be .*, the database itself"):
        backups.prove(taken, service_db, scratch=taken.database)
    assert _count(service_db, "payments") == PAYMENTS


def test_table_keys_are_unambiguous(service_db: str, tmp_path: Path) -> None:
    with psycopg.connect(service_db, autocommit=True) as conn:
        conn.execute('CREATE TABLE "a.b" (x int)')
        conn.execute('INSERT INTO "a.b" VALUES (1)')
        conn.execute("CREATE SCHEMA a")
        conn.execute("CREATE TABLE a.b (x int)")
        conn.execute("INSERT INTO a.b VALUES (1), (2)")
    taken = backups.take(service_db, tmp_path)
    assert (taken.row_counts['"a.b"'], taken.row_counts["a.b"], taken.row_counts["payments"]) == (1, 2, PAYMENTS)
    assert backups.prove(taken, service_db) == taken.row_counts


def test_the_metric_is_replaced_whole(service_db: str, tmp_path: Path) -> None:
    folder, metrics = tmp_path / "backups", tmp_path / "textfile"
    metrics.mkdir()
    assert backups.write_metric(folder, metrics, "golive") is None
    assert list(metrics.iterdir()) == []

    first = backups.take(service_db, folder)
    assert backups.write_metric(folder, metrics, "golive") == first
    published = metrics / backups.METRIC_FILE
    older = published.read_text()
    umask = os.umask(0o077)
    try:
        with published.open() as reader:  # node_exporter in the middle of reading the older file
            second = backups.take(service_db, folder)
            assert backups.write_metric(folder, metrics, "golive") == second
            # Renamed into place: the reader still has the older file, whole; the name is a new file.
            assert os.fstat(reader.fileno()).st_ino != published.stat().st_ino
            assert reader.read() == older
    finally:
        os.umask(umask)
    text = published.read_text()
    assert text.splitlines() == [
        f"# HELP {backups.METRIC} When the newest good pg_dump of golive was taken (unix time).",
        f"# TYPE {backups.METRIC} gauge",
        f"{backups.METRIC} {int(second.created_at.timestamp())}",  # whole seconds, never rounded up
    ]
    assert stat.S_IMODE(published.stat().st_mode) == 0o644  # node_exporter reads it, whatever the umask
    assert [path.name for path in metrics.iterdir()] == [backups.METRIC_FILE]  # no temporary file left
    # A backup whose dump is gone is not the newest good one.
    second.path.unlink()
    assert backups.write_metric(folder, metrics, "golive") == first
