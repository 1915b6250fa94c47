"""A secret from an environment's Ansible Vault file, `<state>/<env>/secrets.yml` (playbooks/README.md: the
operator writes it for staging/production, the lab's is generated), opened with `ansible-vault view` and the
password file Ansible itself would use: ANSIBLE_VAULT_PASSWORD_FILE, else the lab's `<state>/<env>/vault-password`.
The values are never printed; an error names the file and the key, never a value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

PASSWORD_VARIABLE = "ANSIBLE_VAULT_PASSWORD_FILE"  # noqa: S105 (a variable's name, not a password)


class VaultUnreadable(Exception):
    """The vault file, its password or the key asked for is missing or cannot be opened."""


def _ansible_vault() -> str:
    beside = Path(sys.executable).parent / "ansible-vault"
    return str(beside if beside.exists() else "ansible-vault")


def opened(state: Path) -> dict[str, Any]:
    """Every key of `state`/secrets.yml (state: the environment's state folder) with its value as YAML typed it."""
    secrets = state / "secrets.yml"
    password = Path(os.environ.get(PASSWORD_VARIABLE) or state / "vault-password")
    if not secrets.exists():
        raise VaultUnreadable(
            f"no {secrets}: write it with `ansible-vault create {secrets}` (its keys: playbooks/README.md)"
        )
    if not password.exists():
        raise VaultUnreadable(f"no vault password file {password}: set {PASSWORD_VARIABLE} to your secret source")
    try:
        opened = subprocess.run(
            [_ansible_vault(), "view", str(secrets)],
            env={**os.environ, PASSWORD_VARIABLE: str(password)},  # this file only, not also ansible.cfg's
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except OSError as exc:
        raise VaultUnreadable(f"cannot run ansible-vault to open {secrets}: {exc.strerror}") from None
    if opened.returncode != 0:
        raise VaultUnreadable(f"ansible-vault could not open {secrets} with {password} (exit {opened.returncode})")
    try:
        values = yaml.safe_load(opened.stdout) or {}
    except yaml.YAMLError:
        raise VaultUnreadable(f"{secrets} does not hold YAML") from None
    if not isinstance(values, dict):
        raise VaultUnreadable(f"{secrets} does not hold a mapping of keys")
    return {str(key): value for key, value in values.items()}
