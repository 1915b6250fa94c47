"""The fab tasks as an operator runs them (real `fab` processes): check's exit codes and reports, signoff
into the audit log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from foundation.audit import AuditLog
from foundation.repository import REPO_ROOT
from foundation.state import StateLayout
from tests.support.processes import free_port

FAB = Path(sys.executable).parent / "fab"


def _env_file(tmp_path: Path) -> Path:
    raw = {
        "name": "checkslab",
        "transport": "local",
        "service_manager": "supervisord",
        "root": str(tmp_path / "root"),
        "hosts": {"web": ["localhost"]},
        "instances": [{"name": "web1", "port": free_port()}],
        "entry_url": "http://127.0.0.1:9",
        "database": "url",
        "checks": {"unverified": "warn"},
    }
    path = tmp_path / "checkslab.yml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _fab(tmp_path: Path, *args: str, db_url: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "GOLIVE_RELEASE_STATE": str(tmp_path / "state"), "COLUMNS": "200"}
    if db_url:
        env["GOLIVE_DATABASE_URL"] = db_url
    return subprocess.run(
        [str(FAB), "-r", str(REPO_ROOT), *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def test_signoff_is_recorded_with_who_and_when(tmp_path):
    env_file = _env_file(tmp_path)
    sign = ("signoff", "--env", str(env_file), "--item", "pre-1-6", "--by", "Wanjiru Kamau", "--note", "PR 7")
    done = _fab(tmp_path, *sign, "--release", "v4", "--valid-for", "2h")
    assert done.returncode == 0, done.stderr
    assert "for release v4" in done.stdout and "valid until" in done.stdout
    entry = AuditLog(StateLayout(tmp_path / "state").audit_log("checkslab")).entries()[-1]
    assert entry["kind"] == "signoff" and entry["item"] == "pre-1-6" and entry["by"] == "Wanjiru Kamau"
    assert entry["text"] == "Code review completed and approved" and entry["at"]
    assert entry["release"] == "v4" and entry["expires"] > entry["at"]


def test_a_signoff_names_its_release_and_a_valid_lifetime(tmp_path):
    env_file = _env_file(tmp_path)
    sign = ("signoff", "--env", str(env_file), "--by", "Amina")
    unnamed = _fab(tmp_path, *sign, "--item", "pre-1-6")  # nothing is held: no release to default to
    assert unnamed.returncode == 2 and "--release ID" in unnamed.stderr
    forever = _fab(tmp_path, *sign, "--item", "pre-1-6", "--release", "v4", "--valid-for", "forever")
    assert forever.returncode == 2 and "--valid-for: " in forever.stderr and "'forever'" in forever.stderr
    anything = _fab(tmp_path, *sign, "--item", "post-1-6", "--release", "any")
    assert anything.returncode == 2 and "post-1-6 is a post-deploy box" in anything.stderr
    assert not AuditLog(StateLayout(tmp_path / "state").audit_log("checkslab")).entries()


def test_promote_with_nothing_held_is_refused(tmp_path):
    done = _fab(tmp_path, "promote", "--env", str(_env_file(tmp_path)), db_url="postgresql://x@127.0.0.1:9/x")
    assert done.returncode == 2 and "nothing to promote" in done.stdout + done.stderr


def test_bad_usage_is_refused_with_exit_2(tmp_path):
    env_file = _env_file(tmp_path)
    assert _fab(tmp_path, "signoff", "--env", str(env_file), "--item", "nope", "--by", "x").returncode == 2
    assert _fab(tmp_path, "signoff", "--env", str(env_file), "--item", "pre-1-6").returncode == 2
    done = _fab(tmp_path, "check", "--env", str(env_file), "--phase", "someday", db_url="postgresql://x@127.0.0.1:9/x")
    assert done.returncode == 2 and "unknown phase" in done.stdout + done.stderr


@pytest.mark.slow
def test_check_exits_1_on_a_failed_required_check_and_writes_its_reports(tmp_path, db_url):
    env_file = _env_file(tmp_path)
    done = _fab(tmp_path, "check", "--env", str(env_file), "--phase", "go-live", db_url=db_url)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "ready-1-1" in done.stdout and "verdict: fail" in done.stdout
    assert "machine-checkable boxes automated" in done.stdout
    report = json.loads((StateLayout(tmp_path / "state").checks("checkslab") / "latest-go-live.json").read_text())
    assert report["verdict"] == "fail" and "ready-1-1" in report["blocking"]
    statuses = {row["id"]: row["status"] for row in report["results"]}
    assert statuses["ready-3-1"] == "needs sign-off" and statuses["ready-1-1"] == "fail"
    assert (
        (StateLayout(tmp_path / "state").checks("checkslab") / "latest-go-live.md").read_text().startswith("# Checks:")
    )
