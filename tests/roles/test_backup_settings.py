"""roles/backups' settings file (/etc/golive-backup.json) as Ansible renders it from the role's defaults and the
playbooks' group_vars (the vault's vault_backup_key through backups_key), checked by the program itself as the role's
`validate` does (`golive-backup --config FILE settings`), with the key file written as the role writes it: without
a key, as before (not sealed, not shipped); with the vault's key and a bucket, sealed and shipped."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from foundation.repository import REPO_ROOT
from tests.support.backup_program import Host, install

ROLE = REPO_ROOT / "roles" / "backups"
SECRETS_VARS = REPO_ROOT / "playbooks" / "group_vars" / "all" / "secrets.yml"


def _variables(**overrides: Any) -> tuple[DataLoader, dict[str, Any]]:
    loader = DataLoader()
    variables: dict[str, Any] = {}
    for path in (ROLE / "defaults" / "main.yml", SECRETS_VARS):
        variables.update(loader.load_from_file(str(path), trusted_as_template=True) or {})
    variables.update({name: f"from-vault-{name}" for name in ("vault_postgresql_app_password",)})
    variables.update(overrides)
    return loader, variables


def _render(text: str, **overrides: Any) -> Any:
    loader, variables = _variables(**overrides)
    return Templar(loader=loader, variables=variables).template(trust_as_template(text))


def _settings_file(tmp_path: Path, **overrides: Any) -> Path:
    rendered = _render((ROLE / "templates" / "golive-backup.json.j2").read_text(), **overrides)
    path = tmp_path / "golive-backup.json"
    path.write_text(rendered if isinstance(rendered, str) else json.dumps(rendered))
    return path


def test_without_a_vaulted_key_the_settings_are_as_before(tmp_path: Path, database_factory):
    path = _settings_file(tmp_path)
    settings = json.loads(path.read_text())
    assert (settings["key_file"], settings["bucket"], settings["endpoint_url"]) == ("", "", "")
    assert _render("{{ backups_packages + (backups_bucket_packages if backups_bucket else []) }}") == [
        "python3-psycopg",
        "python3-cryptography",
    ]
    program = install(tmp_path / "db", database_factory("role_settings"), sys.executable)
    checked = _check(program, path)
    assert checked.returncode == 0, checked.stderr


def test_the_vaulted_key_and_a_bucket_seal_and_ship(tmp_path: Path, database_factory):
    secret = secrets.token_urlsafe(36)
    key_file = tmp_path / "golive-backup.key"
    overrides = {
        "vault_backup_key": secret,
        "backups_key_file": str(key_file),
        "backups_bucket": "golive-lab-backups",
        "backups_endpoint_url": "http://198.18.0.40:9000",
    }
    path = _settings_file(tmp_path, **overrides)
    settings = json.loads(path.read_text())
    assert settings["key_file"] == str(key_file) and settings["bucket"] == "golive-lab-backups"
    assert secret not in path.read_text(), "the settings name the key file, never the key"
    assert "python3-boto3" in _render(
        "{{ backups_packages + (backups_bucket_packages if backups_bucket else []) }}", **overrides
    )
    # The role's key task: content "{{ backups_key }}\n", mode 0600.
    key_file.write_text(_render("{{ backups_key }}", **overrides) + "\n")
    key_file.chmod(0o600)

    program = install(tmp_path / "db", database_factory("role_settings"), sys.executable)
    checked = _check(program, path)
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout.splitlines()[-1])["bucket"] == "golive-lab-backups"
    assert secret not in checked.stdout + checked.stderr

    key_file.chmod(0o644)
    refused = _check(program, path)
    assert refused.returncode == 2 and "readable by others" in refused.stderr


def _check(program: Host, path: Path) -> subprocess.CompletedProcess[str]:
    """The role's validate: `golive-backup --config FILE settings`."""
    return subprocess.run(
        [*program.argv, "--config", str(path), "settings"],
        env=program.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
