"""Without root or without systemd-nspawn/debootstrap every lab command stops at once and says why."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import time

import pytest

from foundation.repository import REPO_ROOT
from lab import preflight
from lab.errors import LabError
from lab.lock import held
from lab.processes import record, recorded
from tests.support.lab.fab import fab


def test_everything_present_as_root() -> None:
    assert preflight.problems(0, which=lambda command: f"/usr/bin/{command}", platform="linux") == []


def test_not_root_is_named_with_the_fix() -> None:
    found = preflight.problems(1000, which=lambda command: f"/usr/bin/{command}", platform="linux")
    assert len(found) == 1
    assert "needs root (running as uid 1000)" in found[0] and "sudo .venv/bin/fab lab.up" in found[0]


def test_missing_tools_name_their_packages() -> None:
    absent = {"systemd-nspawn", "debootstrap"}
    found = preflight.problems(0, which=lambda c: None if c in absent else f"/bin/{c}", platform="linux")
    assert found == [
        "missing debootstrap, systemd-nspawn: install them with `apt-get install debootstrap systemd-container`"
    ]


def test_not_linux() -> None:
    assert "needs Linux" in preflight.problems(0, platform="darwin")[0]


@pytest.mark.parametrize("command", ["lab.up", "lab.down", "lab.status"])
def test_every_command_refuses_an_unprivileged_user(command: str) -> None:
    """For real: the command as `nobody` (when the tests run as root) or as the unprivileged tester."""
    user = "nobody" if os.geteuid() == 0 else None
    if user is not None and not _runs_as(user):
        pytest.skip(f"{user} cannot run this virtualenv's Python (a private path); the unit tests above cover it")
    started = time.monotonic()
    refused = fab(command, user=user, timeout=60)
    assert refused.returncode == 2, refused.output
    assert "the lab cannot run on this machine" in refused.output
    assert "the lab needs root" in refused.output
    assert time.monotonic() - started < 30


def _runs_as(user: str) -> bool:
    account = pwd.getpwnam(user)
    probe = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--clear-groups"]
    completed = subprocess.run([*probe, sys.executable, "-c", "import fabric"], capture_output=True, check=False)
    return completed.returncode == 0


def test_missing_tools_are_reported_by_the_command() -> None:
    refused = fab("lab.status", env={"PATH": "/nonexistent"}, timeout=60)
    assert refused.returncode == 2, refused.output
    assert "apt-get install" in refused.output and "systemd-container" in refused.output


def test_the_lock_is_exclusive_against_a_shared_holder(tmp_path) -> None:
    lock = tmp_path / "lab.lock"
    lines: list[str] = []
    shared = held(lock, exclusive=False, progress=lines.append)
    with shared, pytest.raises(LabError, match="still held"), held(lock, True, lines.append, wait=0.3):
        pass
    assert any("waiting for the lab lock" in line for line in lines)
    with held(lock, exclusive=True, progress=lines.append, wait=0.3):
        pass


def test_a_pid_record_survives_only_its_own_process(tmp_path) -> None:
    path = tmp_path / "x.pid"
    record(path, os.getpid())
    assert recorded(path) == os.getpid()
    path.write_text(f"{os.getpid()} 1\n")  # same PID, another start time: a reused PID is not ours
    assert recorded(path) is None


@pytest.mark.parametrize("ci", [None, "true"])
def test_lab_tests_skip_without_the_tools_but_fail_in_ci(ci: str | None) -> None:
    """tests/lab/conftest.py: a lab test where the lab cannot run is skipped with the reason, or fails in CI."""
    env = {name: value for name, value in os.environ.items() if name != "CI"} | {"PATH": "/nonexistent"}
    if ci:
        env["CI"] = ci
    command = [sys.executable, "-m", "pytest", "tests/lab/test_boot_lifecycle.py", "-k", "up_twice", "-rs", "-q"]
    completed = subprocess.run(
        [*command, "-p", "no:cacheprovider"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert "the lab cannot run here: missing debootstrap" in completed.stdout
    if ci:
        assert completed.returncode == 1 and "CI=true: the lab cannot run here" in completed.stdout
    else:
        assert completed.returncode == 0 and "1 skipped" in completed.stdout
