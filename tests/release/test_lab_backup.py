"""roles/backups' golive-backup on the lab's db host, as the release uses it (backup_host: db): `release` dumps and
proves that very dump, `restore NAME` puts it back over the live database — swapped in whole, or, for a dump that
does not match its checksum or a name that is no dump, nothing changed at all."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support.lab.fab import ssh
from tests.support.lab.lab_state import converged_lab, probe

pytestmark = [pytest.mark.slow, pytest.mark.lab, pytest.mark.timeout(900)]
BACKUP = "/usr/local/sbin/golive-backup"
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


def has_probe_table() -> bool:
    answer = ssh("db", f"runuser -u postgres -- psql -tAq golive -c \"SELECT to_regclass('public.{PROBE_TABLE}')\"")
    return answer.strip() == PROBE_TABLE


def last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def test_release_dumps_and_proves_then_restore_swaps_the_dump_in(lab) -> None:
    rows = f"CREATE TABLE IF NOT EXISTS {DATA_TABLE} AS SELECT generate_series(1, 25) AS n"
    ssh("db", f"runuser -u postgres -- psql -q golive -c '{rows}'")
    taken = last_json(ssh("db", as_postgres("release"), timeout=300))
    assert taken["rows"] >= 25 and taken["tables"] >= 1, taken
    listed = ssh("db", f"sha256sum {DUMPS}/{taken['name']}.dump").split()[0]
    assert listed == taken["sha256"]
    # A change after the dump: the restore must take it away.
    ssh("db", f"runuser -u postgres -- psql -q golive -c 'CREATE TABLE {PROBE_TABLE} (x int)'")
    assert has_probe_table()
    restored = last_json(ssh("db", as_postgres(f"restore {taken['name']}"), timeout=300))
    assert restored["rows"] == taken["rows"] and restored["replaced"].startswith("golive_replaced_"), restored
    assert not has_probe_table()
    # The service's role still owns what it owns, and the replaced database is kept for a person to drop.
    owner = ssh(
        "db",
        'runuser -u postgres -- psql -tAq -c "SELECT pg_get_userbyid(datdba) FROM pg_database '
        "WHERE datname = 'golive'\"",
    ).strip()
    assert owner and owner != "postgres"
    ssh("db", f"runuser -u postgres -- dropdb {restored['replaced']}")


def test_a_dump_not_matching_its_checksum_or_no_dump_changes_nothing(lab) -> None:
    taken = last_json(ssh("db", as_postgres("release"), timeout=300))
    ssh("db", f"runuser -u postgres -- psql -q golive -c 'CREATE TABLE IF NOT EXISTS {PROBE_TABLE} (x int)'")
    forged = "golive-19990101T000000Z"
    ssh(
        "db",
        f"cd {DUMPS} && cp {taken['name']}.dump {forged}.dump && cp {taken['name']}.counts.json {forged}.counts.json"
        f" && echo '{'0' * 64}  {forged}.dump' > {forged}.sha256 && chown postgres: {forged}.*",
    )
    try:
        refused = not probe("db", as_postgres(f"restore {forged}") + f" 2>/tmp/{forged}.err")
        assert refused
        assert "does not match its sha256" in ssh("db", f"cat /tmp/{forged}.err")
        assert has_probe_table()  # the live database as it was
        assert not probe("db", as_postgres("restore ../etc/passwd"))
        assert not probe("db", as_postgres("restore golive-20000101T000000Z"))  # no such dump
        assert has_probe_table()
        databases = ssh("db", "runuser -u postgres -- psql -tAq -c 'SELECT datname FROM pg_database'")
        assert "golive_restoring" not in databases
    finally:
        ssh("db", f"rm -f {DUMPS}/{forged}.* /tmp/{forged}.err")
