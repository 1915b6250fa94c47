"""roles/app's golive-release: the only program the deploy user may run as root. Run here as a program (the local
environment's way: --root, the invoking user), and its restart with a stand-in systemctl."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from foundation.fleet import LOCAL_HELPER
from foundation.host_commands import HELPER

ROLE_DEFAULTS = Path(__file__).resolve().parents[2] / "roles/app/defaults/main.yml"


def helper(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(LOCAL_HELPER), *args], capture_output=True, text=True, env=env, check=False
    )


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """An installed release r1 whose python prints what it was given, and the service's settings."""
    release = tmp_path / "releases" / "r1"
    (release / "source").mkdir(parents=True)
    (release / "venv" / "bin").mkdir(parents=True)
    python = release / "venv" / "bin" / "python"
    python.write_text('#!/bin/sh\necho "cwd=$(pwd) args=$* db=$GOLIVE_DATABASE_URL release=$GOLIVE_RELEASE_ID"\n')
    python.chmod(0o755)
    (release / "release.env").write_text("GOLIVE_RELEASE_ID=r1\n")
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "golive.env").write_text("GOLIVE_DATABASE_URL=postgresql://x@db/golive\n")
    (tmp_path / "shared" / "golive.env").chmod(0o600)
    return tmp_path


def test_the_role_installs_it_where_the_release_calls_it():
    assert f"app_release_helper: {HELPER}\n" in ROLE_DEFAULTS.read_text()


def test_migrate_runs_the_release_migrations_with_the_settings(layout: Path):
    done = helper("--root", str(layout), "migrate", "r1")
    assert done.returncode == 0, done.stderr
    source = layout / "releases" / "r1" / "source"
    assert done.stdout.strip() == f"cwd={source} args=-m app.db migrate db=postgresql://x@db/golive release=r1"


@pytest.mark.parametrize(
    ("release", "said"),
    [("r2", "no installed release r2 under"), ("../r1", "is not a name"), ("-r1", "is not a name")],
)
def test_migrate_refuses_what_is_not_an_installed_release(layout: Path, release: str, said: str):
    done = helper("--root", str(layout), "migrate", "--", release)
    assert done.returncode == 2 and said in done.stderr, done.stderr


def test_settings_and_their_mode(layout: Path):
    assert helper("--root", str(layout), "settings").stdout == "GOLIVE_DATABASE_URL=postgresql://x@db/golive\n"
    mode, owner = helper("--root", str(layout), "settings", "--stat").stdout.split()
    assert mode == "600" and owner
    (layout / "shared" / "golive.env").unlink()
    missing = helper("--root", str(layout), "settings")
    assert missing.returncode == 2 and "cannot read" in missing.stderr and "golive.env" in missing.stderr


def test_under_sudo_the_root_comes_only_from_the_hosts_configuration(layout: Path):
    done = helper("--root", str(layout), "migrate", "r1", env={**os.environ, "SUDO_UID": "1000"})
    assert done.returncode == 2 and "--root is not taken under sudo" in done.stderr
    assert "cwd=" not in done.stdout


def _module():
    loader = importlib.machinery.SourceFileLoader("golive_release", str(LOCAL_HELPER))
    spec = importlib.util.spec_from_loader("golive_release", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_restart_resets_the_start_limit_first_and_knows_only_the_hosts_units(tmp_path: Path, monkeypatch):
    calls = tmp_path / "calls"
    systemctl = tmp_path / "systemctl"
    systemctl.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    systemctl.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    module = _module()
    config = {"root": str(tmp_path), "user": "golive", "units": ["app", "worker"]}
    assert module.restart(config, "worker") == 0
    # A release that could not start leaves its unit failed with the start limit hit: a rollback must still start.
    assert calls.read_text().splitlines() == ["reset-failed golive-worker.service", "restart golive-worker.service"]
    with pytest.raises(module.Refused, match="not a unit of this host"):
        module.restart(config, "sshd")
    with pytest.raises(module.Refused, match="is for systemd hosts"):
        module.restart({"root": str(tmp_path), "user": None, "units": None}, "app")
    assert len(calls.read_text().splitlines()) == 2  # nothing refused reached systemctl
