"""The release's backup on the database host (release/backups/on_host.py): the command sent to the host, the report
read back, a host that says nothing usable refused clearly, and the environment's `backup_host:` validated.
The real golive-backup on a real db host runs in the lab tests (tests/release/test_lab_release.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from foundation.environment import ENVIRONMENTS_DIR, EnvironmentInvalid, parse_environment
from foundation.transport import CommandResult
from release.backups import on_host as host_backup

REPORT = {"name": "golive-20261126T180000Z", "sha256": "ab" * 32, "bytes": 52100, "tables": 12, "rows": 340}


class ScriptedHost:
    host = "db"

    def __init__(self, output: str):
        self.output, self.commands = output, []

    def run(self, command: str, **kwargs: Any) -> CommandResult:
        self.commands.append(command)
        return CommandResult(0, self.output)

    def put(self, local: Path, remote: str) -> None:
        raise AssertionError("a host backup never uploads")


def test_take_runs_golive_backup_release_as_postgres_and_reads_its_report():
    host = ScriptedHost("golive-backup: /var/backups/golive/x.dump (52100 bytes)\n" + json.dumps(REPORT) + "\n")
    taken = host_backup.take(host)
    assert host.commands == [
        "runuser -u postgres -- /usr/local/sbin/golive-backup release",
        "/usr/local/sbin/golive-backup metric",  # as root: the backup's time for GoliveBackupTooOld
    ]
    assert taken == host_backup.HostBackup("db", REPORT["name"], REPORT["sha256"], 52100, 12, 340)
    assert taken.record() == {"id": REPORT["name"], "sha256": REPORT["sha256"], "rows": 340, "host": "db"}


def test_restore_names_the_dump_quoted():
    host = ScriptedHost(json.dumps({"name": REPORT["name"], "tables": 12, "rows": 340}))
    taken = host_backup.HostBackup("db", "golive-2026 x;rm", "ab" * 32, 1, 1, 1)
    host_backup.restore(host, taken)
    assert host.commands == ["runuser -u postgres -- /usr/local/sbin/golive-backup restore 'golive-2026 x;rm'"]


@pytest.mark.parametrize("output", ["", "usage: golive-backup dump | restore-test | list\n", "{not json"])
def test_a_host_without_a_report_is_refused_naming_it(output: str):
    with pytest.raises(host_backup.HostBackupFailed, match="db: golive-backup release gave no report"):
        host_backup.take(ScriptedHost(output))


def lab(**changes: Any) -> dict[str, Any]:
    return {**yaml.safe_load((ENVIRONMENTS_DIR / "lab.yml").read_text()), **changes}


def test_backup_host_is_a_db_host_of_an_ssh_environment():
    assert parse_environment(lab(backup_host="db")).backup_host == "db"
    assert parse_environment(lab(backup_host=None)).backup_host is None
    with pytest.raises(EnvironmentInvalid, match=r"backup_host must be one of its db hosts .*\(db\), not 'web1'"):
        parse_environment(lab(backup_host="web1"))
    local = yaml.safe_load((ENVIRONMENTS_DIR / "local.yml").read_text())
    with pytest.raises(EnvironmentInvalid, match="backup_host"):
        parse_environment({**local, "backup_host": "localhost"})
