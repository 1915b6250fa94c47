"""The database host: PostgreSQL 15 for the service (pg_hba limited to the web hosts), and backups that
really restore."""

from __future__ import annotations

testinfra_hosts = ["ansible://db"]


def test_postgresql_is_running_and_enabled(host):
    cluster = host.service("postgresql@15-main")
    assert cluster.is_running and cluster.is_enabled


def test_listens_on_its_address(host, addresses):
    assert host.socket(f"tcp://{addresses('db')[0]}:5432").is_listening


def test_pg_hba_admits_only_web_hosts_over_the_network(host, addresses):
    rules = host.check_output(
        "runuser -u postgres -- psql -XtAc "
        "\"SELECT type, address, auth_method FROM pg_hba_file_rules WHERE type LIKE 'host%' AND error IS NULL\""
    ).splitlines()
    remote = [r.split("|") for r in rules if not r.split("|")[1].startswith(("127.", "::1"))]
    assert sorted(address for _, address, _ in remote) == sorted(addresses("web"))
    assert all(method == "scram-sha-256" for _, _, method in remote)


def test_the_application_database_belongs_to_its_role(host):
    owner = host.check_output(
        "runuser -u postgres -- psql -XtAc \"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'golive'\""
    )
    assert owner == "golive"


def test_backup_timers_are_active(host):
    for timer in ("golive-backup.timer", "golive-restore-test.timer"):
        assert host.service(timer).is_enabled
        assert host.service(timer).is_running


def test_a_backup_is_taken_and_restores_with_the_same_row_counts(host):
    host.check_output("systemctl start golive-backup.service")
    newest = host.check_output("golive-backup list").splitlines()[0]
    dump = host.file(newest)
    assert (dump.user, dump.mode) == ("postgres", 0o600)
    assert host.file("/var/backups/golive").mode == 0o700
    host.check_output("systemctl start golive-restore-test.service")
    log = host.check_output("journalctl -u golive-restore-test.service -n 5 --no-pager -o cat")
    assert "counts match" in log
