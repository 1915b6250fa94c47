"""An environment's secrets by key, by one code path whatever its source (data decides, never the environment's
name): the vault file for `generated`/`vault` (<state>/secrets.yml, foundation/vault.py), the AWS store for
`aws-secretsmanager`/`aws-ssm` (aws.py). `secret` gives one value to what needs it (the release's database tunnel,
the backups' key); `refusals` is preflight's: every required key missing, every key empty, a placeholder
(foundation/placeholders.py, the one rule) or of the wrong type, named with the source."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from foundation import vault
from foundation.placeholders import problem
from foundation.secrets import aws
from foundation.secrets.keys import REQUIRED
from foundation.secrets.source import VAULT_FILE, SecretSource, SecretsUnavailable


def where(source: SecretSource, state: Path) -> str:
    """The source for a person: the vault file's path, or `aws-secretsmanager golive/production`."""
    return str(state / "secrets.yml") if source.source in VAULT_FILE else source.describe()


def values(source: SecretSource, state: Path) -> dict[str, Any]:
    """Every key the source holds, as it typed them (state: the environment's state folder, for a vault file)."""
    if source.aws:
        return aws.read(source)
    if source.source in VAULT_FILE:
        try:
            return vault.opened(state)
        except vault.VaultUnreadable as exc:
            raise SecretsUnavailable(str(exc)) from None
    raise SecretsUnavailable(
        f"the controller reads no secrets from source {source.source}: declare vault, aws-secretsmanager or aws-ssm "
        "in the environment's `secrets:`"
    )


def why_unusable(value: Any) -> str | None:
    """Why a held value cannot be used ("empty", "a placeholder", "wrong type …"), None when it can."""
    if value is None:
        return "empty"
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return f"wrong type (a {type(value).__name__}, not text)"
    return problem(str(value))


def secret(source: SecretSource, state: Path, key: str) -> str:
    """The value of `key`; SecretsUnavailable naming the key and the source when it is not there or not usable."""
    held = values(source, state)
    if key not in held:
        raise SecretsUnavailable(f"{where(source, state)} has no {key}")
    why = why_unusable(held[key])
    if why is not None:
        raise SecretsUnavailable(f"secret {key}: {why} in {where(source, state)}")
    return str(held[key])


def refusals(source: SecretSource, state: Path, required: Iterable[str] = REQUIRED) -> list[str]:
    """What preflight refuses, one line a key (`secret K: empty in aws-secretsmanager golive/production`): a
    required key missing, any held key unusable. Nothing for the source the tooling fills itself (generated)."""
    if source.source == "generated":
        return []
    held, place = values(source, state), where(source, state)
    missing = [f"secret {key}: missing in {place}" for key in required if key not in held]
    unusable = [f"secret {key}: {why} in {place}" for key, value in held.items() if (why := why_unusable(value))]
    return missing + unusable
