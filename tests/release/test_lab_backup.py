"""roles/backups' golive-backup on the lab's db host, as the release and the checks use it (backup_host: db): the
controller's own package foundation/backups/dumps, its modules copied there as they are into the one folder the
launcher names, run by Debian's python3 with python3-psycopg, reading the settings the role templated. `release`
dumps and proves that very dump; `restore ID` puts it back over the live database in one transaction, what it
replaced kept as a backup of its own — or, for a dump that does not match its checksum or a name that is no
backup id, nothing changed at all. The checks find the backups there (foundation/backups/strategy.py). The same
program off the lab, on the embedded PostgreSQL: tests/foundation/test_backup_program.py."""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Iterator

import pytest

from checks import backups, releases
from checks.context import Context
from checks.model import Status
from foundation.environment import load_environment
from foundation.repository import REPO_ROOT
from tests.support.backup_program import PACKAGE
from tests.support.lab.fab import ssh
from tests.support.lab.lab_state import converged_lab, probe

pytestmark = [pytest.mark.slow, pytest.mark.lab, pytest.mark.timeout(900)]
BACKUP = "/usr/local/sbin/golive-backup"
LIBRARY = "/usr/local/lib/golive-backup"  # roles/backups: backups_lib_dir
DUMPS = "/var/backups/golive"
PROBE_TABLE = "golive_restore_probe"
DATA_TABLE = "golive_backup_probe_rows"  # rows to dump even in a lab no release has migrated yet


@pytest.fixture(scope="module")
def lab() -> Iterator[None]:
    with converged_lab():
        yield
        ssh("db", f"runuser -u postgres -- psql -q golive -c 'DROP TABLE IF EXISTS {PROBE_TABLE}, {DATA_TABLE}'")


def as_postgres(arguments: str) -> str:
    return f"runuser -u postgres -- {BACKUP} {arguments}"


def psql(query: str, database: str = "golive") -> str:
    return ssh("db", f"runuser -u postgres -- psql -XtAq {database} -c {shlex.quote(query)}").strip()


def has_probe_table() -> bool:
    return psql(f"SELECT to_regclass('public.{PROBE_TABLE}')") == PROBE_TABLE


def last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def manifests() -> set[str]:
    return set(ssh("db", f"cd {DUMPS} && ls -1 -- *.json").split())


def test_the_program_is_the_controllers_with_the_roles_settings(lab) -> None:
    settings = last_json(ssh("db", as_postgres("settings")))
    assert settings == {
        "database": "golive",
        "folder": DUMPS,
        "keep": 3,  # playbooks/vars/lab.yml
        "scratch_database": "golive_restore_test",
        "metrics_folder": "/var/lib/prometheus/node-exporter",
        # the lab neither seals nor ships its backups yet: no backups_key, no backups_bucket (roles/backups)
        "bucket": "",
        "endpoint_url": "",
        "key_file": "",
        "region": "",
    }
    assert ssh("db", "python3 -c 'import psycopg; print(psycopg.__version__)'").startswith("3.")
    # The package as the role ships it: the controller's modules, byte for byte, in the one version folder that
    # the launcher names (earlier versions removed).
    versions = ssh("db", f"ls -1 {LIBRARY}").split()
    assert len(versions) == 1, versions
    shipped = ssh("db", f"cd {LIBRARY}/{versions[0]}/dumps && sha256sum -- *.py").splitlines()
    here = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in PACKAGE.glob("*.py")}
    assert {line.split()[1]: line.split()[0] for line in shipped} == here
    assert f'"{LIBRARY}/{versions[0]}"' in ssh("db", f"cat {BACKUP}")


def test_release_dumps_and_proves_then_restore_puts_the_dump_back(lab) -> None:
    rows = f"CREATE TABLE IF NOT EXISTS {DATA_TABLE} AS SELECT generate_series(1, 25) AS n"
    ssh("db", f"runuser -u postgres -- psql -q golive -c '{rows}'")
    owners = psql("SELECT string_agg(tablename || ':' || tableowner, ',' ORDER BY tablename) FROM pg_tables")
    taken = last_json(ssh("db", as_postgres("release"), timeout=300))
    assert taken["rows"] >= 25 and taken["tables"] >= 1, taken
    on_disk = ssh("db", f"sha256sum {DUMPS}/{taken['id']}.dump").split()[0]
    assert on_disk == taken["sha256"]
    assert psql("SELECT count(*) FROM pg_database WHERE datname = 'golive_restore_test'") == "0"
    # A change after the dump: the restore must take it away, and keep it in a dump of its own.
    ssh("db", f"runuser -u postgres -- psql -q golive -c 'CREATE TABLE {PROBE_TABLE} (x int)'")
    ssh("db", f"runuser -u postgres -- psql -q golive -c 'DELETE FROM {DATA_TABLE}'")
    assert has_probe_table()

    restored = last_json(ssh("db", as_postgres(f"restore --sha256 {taken['sha256']} -- {taken['id']}"), timeout=300))

    assert (restored["id"], restored["rows"], restored["into"]) == (taken["id"], taken["rows"], None), restored
    assert not has_probe_table()
    assert psql(f"SELECT count(*) FROM {DATA_TABLE}") == "25"
    # The same database, restored in place: its owner and every table's owner as they were.
    assert psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'golive'", "postgres") == "golive"
    assert psql("SELECT string_agg(tablename || ':' || tableowner, ',' ORDER BY tablename) FROM pg_tables") == owners
    replaced = json.loads(ssh("db", f"cat {DUMPS}/{restored['replaced']}.json"))
    assert replaced["row_counts"][PROBE_TABLE] == 0 and replaced["row_counts"][DATA_TABLE] == 0
    ssh("db", f"rm -f {DUMPS}/{restored['replaced']}.json {DUMPS}/{restored['replaced']}.dump")


def test_a_dump_not_matching_its_checksum_or_no_backup_id_changes_nothing(lab) -> None:
    taken = last_json(ssh("db", as_postgres("release"), timeout=300))
    ssh("db", f"runuser -u postgres -- psql -q golive -c 'CREATE TABLE IF NOT EXISTS {PROBE_TABLE} (x int)'")
    forged = "19990101T000000Z-000000"
    manifest = json.loads(ssh("db", f"cat {DUMPS}/{taken['id']}.json"))
    manifest.update(id=forged, file=f"{forged}.dump", sha256="0" * 64)
    ssh(
        "db",
        f"cd {DUMPS} && cp {taken['id']}.dump {forged}.dump && echo {shlex.quote(json.dumps(manifest))} > {forged}.json"
        f" && chown postgres: {forged}.*",
    )
    before = manifests()
    try:
        refused = not probe("db", as_postgres(f"restore {forged}") + f" 2>/tmp/{forged}.err")
        assert refused
        said = ssh("db", f"cat /tmp/{forged}.err")
        assert "checksum mismatch" in said and "not restored, the database is as it was" in said, said
        assert has_probe_table()  # the live database as it was
        assert manifests() == before  # not even a dump of it was taken
        for name in ("../etc/passwd", "golive-20000101T000000Z", "20000101T000000Z-000000"):
            assert not probe("db", as_postgres(f"restore -- {name}")), name
        assert not probe("db", as_postgres(f"restore --sha256 {'ab' * 32} -- {taken['id']}"))  # not the one recorded
        assert has_probe_table()
        assert manifests() == before
        databases = psql("SELECT string_agg(datname, ',') FROM pg_database", "postgres")
        assert "golive_restore_test" not in databases and "golive_prove_" not in databases
    finally:
        ssh("db", f"rm -f {DUMPS}/{forged}.* /tmp/{forged}.err")


def test_metric_publishes_the_newest_backup(lab) -> None:
    ssh("db", f"{BACKUP} metric")
    newest = ssh("db", as_postgres("list")).splitlines()[0]
    taken_at = json.loads(ssh("db", f"cat {newest.removesuffix('.dump')}.json"))["created_at"]
    published = ssh("db", "cat /var/lib/prometheus/node-exporter/golive_backup.prom")
    stamp = ssh("db", f"date -d {shlex.quote(taken_at)} +%s").strip()
    assert f"golive_backup_last_success_timestamp_seconds {stamp}" in published, (published, taken_at)


def test_the_checks_find_the_backups_on_db(lab) -> None:
    taken = last_json(ssh("db", as_postgres("release"), timeout=300))
    listed = last_json(ssh("db", as_postgres("list --json")))["backups"]
    assert listed[0] == taken and len(listed) <= 3  # keep: 3
    ctx = Context(env=load_environment("lab"), repo=REPO_ROOT)  # no database URL: db proves its own backups
    recent = backups.recent(ctx, {})
    assert recent.status == Status.PASS, recent.detail
    assert recent.detail.startswith(f"backup {taken['id']}, ") and "counts equal" in recent.detail
    assert "golive-backup's folder on db" in recent.command
    intact = backups.intact(ctx, {})
    assert intact.status == Status.PASS and intact.detail == f"{len(listed)} of {len(listed)} backups intact (100 %)"
    ctx.record = {"release_id": "lab-backup-test", "backup": {"id": taken["id"], "sha256": taken["sha256"]}}
    assert releases.backup_taken(ctx, {}).status == Status.PASS
    assert psql("SELECT count(*) FROM pg_database WHERE datname = 'golive_restore_test'") == "0"
