"""The backups on the database host (foundation/backups/on_host.py): the commands sent to the host, the answers read
back, a host that fails or says nothing usable refused clearly, and the environment's `backup_host:` validated.
The real program answering the real parser: tests/foundation/test_backup_program.py and
tests/foundation/test_backup_strategy.py; on the lab's db host: tests/release/test_lab_backup.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from foundation.backups import on_host as host_backup
from foundation.backups.taken import Taken
from foundation.environment import ENVIRONMENTS_DIR, EnvironmentInvalid, parse_environment
from foundation.transport import CommandResult

SUMMARY = {
    "id": "20261126T180000Z-3fa2b1",
    "sha256": "ab" * 32,
    "size": 52100,
    "tables": 12,
    "rows": 340,
    "created_at": "2026-11-26T18:00:00+00:00",
}


class ScriptedHost:
    host = "db"

    def __init__(self, output: str, code: int = 0):
        self.output, self.code, self.commands = output, code, []

    def run(self, command: str, **kwargs: Any) -> CommandResult:
        self.commands.append(command)
        return CommandResult(self.code, self.output)

    def put(self, local: Path, remote: str) -> None:
        raise AssertionError("a host backup never uploads")


def test_take_runs_golive_backup_release_as_postgres_and_reads_its_answer():
    host = ScriptedHost(json.dumps(SUMMARY) + "\ngolive-backup: 20261126T180000Z-3fa2b1 restores: counts match\n")
    taken = host_backup.take(host)
    assert host.commands == [
        "sudo -n -u postgres /usr/local/sbin/golive-backup release",
        "sudo -n /usr/local/sbin/golive-backup metric",  # as root: the backup's time for GoliveBackupTooOld
    ]
    taken_at = datetime(2026, 11, 26, 18, tzinfo=UTC)
    assert taken == Taken(SUMMARY["id"], SUMMARY["sha256"], 52100, 12, 340, taken_at, host="db")
    assert taken.record() == {
        "id": SUMMARY["id"],
        "sha256": SUMMARY["sha256"],
        "size": 52100,
        "tables": 12,
        "rows": 340,
        "host": "db",
    }


def test_restore_names_the_backup_after_the_options_quoted():
    host = ScriptedHost(json.dumps({"id": SUMMARY["id"], "tables": 12, "rows": 340, "replaced": None}))
    host_backup.restore(host, "--into x; rm -rf /", sha256="ab" * 32, into="golive check", keep_replaced=False)
    assert host.commands == [
        "sudo -n -u postgres /usr/local/sbin/golive-backup restore --sha256 "
        + "ab" * 32
        + " --into 'golive check' --discard-replaced -- '--into x; rm -rf /'"
    ]
    host_backup.restore(host, SUMMARY["id"])
    assert host.commands[-1] == f"sudo -n -u postgres /usr/local/sbin/golive-backup restore -- {SUMMARY['id']}"


@pytest.mark.parametrize("output", ["", "usage: golive-backup dump | restore-test | list\n", "{not json", "[1]"])
def test_a_host_without_an_answer_is_refused_naming_it(output: str):
    with pytest.raises(host_backup.HostBackupFailed, match="db: golive-backup release gave no report"):
        host_backup.take(ScriptedHost(output))


def test_an_answer_that_is_no_summary_is_refused():
    host = ScriptedHost(json.dumps({"name": "golive-20261126T180000Z", "bytes": 1}))
    with pytest.raises(host_backup.HostBackupFailed, match=r"db: golive-backup release answered .*not a backup's"):
        host_backup.take(host)
    assert len(host.commands) == 1, "no metric for a backup that was not taken"


def test_a_failing_program_is_refused_with_what_it_said():
    said = "golive-backup: 20261126T180000Z-3fa2b1 not restored, the database is as it was: checksum mismatch\n"
    host = ScriptedHost("some pg_restore noise\n" + said, code=1)
    with pytest.raises(
        host_backup.HostBackupFailed,
        match=r"^db: golive-backup restore 20261126T180000Z-3fa2b1 failed \(exit 1\): 20261126T180000Z-3fa2b1 not "
        r"restored, the database is as it was: checksum mismatch$",
    ):
        host_backup.restore(host, SUMMARY["id"])


def test_list_verify_and_prove_ask_the_program_for_json():
    older = {**SUMMARY, "id": "20261125T180000Z-000001", "created_at": "2026-11-25T18:00:00+00:00"}
    host = ScriptedHost(json.dumps({"backups": [SUMMARY, older]}))
    listed = host_backup.listed(host)
    assert [taken.id for taken in listed] == [SUMMARY["id"], older["id"]] and {t.host for t in listed} == {"db"}
    assert listed[1].created_at == datetime(2026, 11, 25, 18, tzinfo=UTC)

    host.output = json.dumps({"verified": {SUMMARY["id"]: None, older["id"]: "checksum mismatch (file ab…)"}})
    assert host_backup.verify(host) == {SUMMARY["id"]: None, older["id"]: "checksum mismatch (file ab…)"}
    host_backup.verify(host, (SUMMARY["id"],))

    host.output = "golive-backup: restores into golive_restore_test: counts match\n" + json.dumps(SUMMARY)
    assert host_backup.prove(host, SUMMARY["id"], sha256=SUMMARY["sha256"]).rows == 340
    assert host.commands == [
        "sudo -n -u postgres /usr/local/sbin/golive-backup list --json",
        "sudo -n -u postgres /usr/local/sbin/golive-backup verify --",
        f"sudo -n -u postgres /usr/local/sbin/golive-backup verify -- {SUMMARY['id']}",
        f"sudo -n -u postgres /usr/local/sbin/golive-backup prove --sha256 {SUMMARY['sha256']} -- {SUMMARY['id']}",
    ]


@pytest.mark.parametrize(
    ("ask", "answer", "refusal"),
    [
        (host_backup.listed, {"backups": {"id": "x"}}, "list answered .* not a list of backups"),
        (
            host_backup.listed,
            {"backups": [{**SUMMARY, "created_at": "2026-11-26T18:00:00"}]},
            "list answered .* has no time zone",
        ),
        (host_backup.listed, {"backups": [{"id": "x"}]}, "list answered .* not a backup's summary"),
        (host_backup.verify, {"verified": [SUMMARY["id"]]}, "verify answered .* not what it verified"),
        (host_backup.verify, {"verified": {SUMMARY["id"]: 1}}, "verify answered .* not what it verified"),
        (lambda host: host_backup.prove(host, SUMMARY["id"]), {"id": SUMMARY["id"]}, "prove .* not a backup's"),
    ],
)
def test_answers_that_are_not_what_was_asked_are_refused(ask, answer: dict, refusal: str):
    with pytest.raises(host_backup.HostBackupFailed, match=f"^db: golive-backup {refusal}"):
        ask(ScriptedHost(json.dumps(answer)))


def lab(**changes: Any) -> dict[str, Any]:
    return {**yaml.safe_load((ENVIRONMENTS_DIR / "lab.yml").read_text()), **changes}


def test_backup_host_is_a_db_host_of_an_ssh_environment(lab_state):
    assert parse_environment(lab(backup_host="db"), state=lab_state).backup_host == "db"
    assert parse_environment(lab(backup_host=None), state=lab_state).backup_host is None
    with pytest.raises(EnvironmentInvalid, match=r"backup_host must be one of its db hosts .*\(db\), not 'web1'"):
        parse_environment(lab(backup_host="web1"), state=lab_state)
    local = yaml.safe_load((ENVIRONMENTS_DIR / "local.yml").read_text())
    with pytest.raises(EnvironmentInvalid, match="backup_host"):
        parse_environment({**local, "backup_host": "localhost"})
