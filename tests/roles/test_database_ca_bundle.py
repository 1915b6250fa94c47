"""roles/app refuses a verified database connection without its CA bundle (tasks/database_tls.yml), naming the file:
the real ansible-playbook runs the role's task file against this machine (connection local), reading only — the
bundle it is pointed at lives in tmp_path and nothing is fetched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from foundation.repository import REPO_ROOT

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


def converge(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    play = [
        {
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": variables,
            "tasks": [{"ansible.builtin.include_role": {"name": "app", "tasks_from": "database_tls"}}],
        }
    ]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    env = {
        "PATH": f"{ANSIBLE_PLAYBOOK.parent}:/usr/bin:/bin",
        "ANSIBLE_ROLES_PATH": str(REPO_ROOT / "roles"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_FORCE_COLOR": "0",
    }
    return subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-e", f"ansible_python_interpreter={sys.executable}",
         str(tmp_path / "play.yml")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_a_verified_connection_without_its_bundle_is_refused_naming_it(tmp_path):
    absent = tmp_path / "rds-global-bundle.pem"
    run = converge(tmp_path, app_database_sslmode="verify-ca", app_database_sslrootcert=str(absent))
    assert run.returncode == 2, run.stdout + run.stderr
    assert "missing CA bundle: sslmode=verify-ca" in run.stdout and str(absent) in run.stdout


def test_a_verified_connection_names_an_unset_bundle(tmp_path):
    run = converge(tmp_path, app_database_sslmode="verify-full", app_database_sslrootcert="")
    assert run.returncode == 2 and "app_database_sslrootcert (not set)" in run.stdout, run.stdout


def test_a_bundle_on_the_host_passes(tmp_path):
    bundle = tmp_path / "ca.crt"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")  # its presence is what the role checks; libpq reads it
    run = converge(tmp_path, app_database_sslmode="verify-full", app_database_sslrootcert=str(bundle))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "failed=0" in run.stdout and "skipped=1" in run.stdout  # nothing to fetch: no app_database_ca_bundle_url


def test_an_unverified_connection_needs_no_bundle(tmp_path):
    run = converge(tmp_path, app_database_sslmode="require", app_database_sslrootcert="")
    assert run.returncode == 0, run.stdout + run.stderr
