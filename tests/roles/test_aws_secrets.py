"""The converge takes an AWS-sourced environment's secrets through amazon.aws's lookups (playbooks/secrets/aws.yml,
chosen by the `secrets:` of release/environments/<env>.yml): real ansible-playbook, real HTTP to moto's Secrets
Manager and SSM on a loopback port (boto3's AWS_ENDPOINT_URL points the lookups at it). Its preflight refuses a
required key missing, or a value empty or a placeholder, naming the key and the source, never a value. No host is
reached (the inventory's hosts are at port 1; every play stops at the preflight or runs no task)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from foundation.repository import REPO_ROOT
from foundation.secrets.keys import OPTIONAL, REQUIRED
from tests.roles.test_converge_preflight import CLOUD_GROUPS, assert_refused, converge, environment, isolated
from tests.support.secrets_server import CREDENTIALS, SecretsServer, secrets_server

AWS_FILE = REPO_ROOT / "playbooks" / "secrets" / "aws.yml"
__all__ = ["isolated"]  # the fixture, shared


@pytest.fixture(scope="module")
def server() -> Iterator[SecretsServer]:
    with secrets_server() as running:
        yield running


@pytest.fixture
def aws(server: SecretsServer, monkeypatch: pytest.MonkeyPatch) -> SecretsServer:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
    return server


def test_the_aws_vars_file_names_every_key_of_the_one_list():
    """Required keys read as the source holds them (missing: refused), optional ones default to empty."""
    held = yaml.safe_load(AWS_FILE.read_text())
    keys = [key for key in held if key.startswith("vault_")]
    assert keys == [*REQUIRED, *OPTIONAL]
    assert all("default(" not in held[key] for key in REQUIRED)
    assert all(held[key].endswith("| default('') }}") for key in OPTIONAL)


def filled() -> dict[str, str]:
    values = {key: secrets.token_hex(20) for key in REQUIRED}
    return values | {"vault_chain_rpc_url": f"https://rpc.example.net/v2/{secrets.token_hex(16)}"}


@pytest.mark.slow
def test_production_from_secrets_manager_refuses_missing_empty_and_placeholder_naming_them(isolated, aws):
    held = filled() | {"vault_daraja_consumer_secret": "", "vault_backup_key": "<the backup key>"}
    del held["vault_daraja_passkey"]
    aws.secret(held, "golive/production")
    inventory = environment(isolated, "production", CLOUD_GROUPS, vault=None)  # no vault file: the AWS source
    named = [
        "aws-secretsmanager golive/production: vault_daraja_passkey (missing), "
        "vault_daraja_consumer_secret (empty), vault_backup_key (a placeholder)",
    ]
    assert_refused(converge(inventory, "web.yml"), *named, hidden=[value for value in held.values() if value])


@pytest.mark.slow
def test_staging_from_ssm_parameters_passes_the_secrets_and_names_only_the_vars(isolated, aws, tmp_path: Path):
    """A complete source: the refusal names only the committed CHANGE-ME vars, the source 'nothing'."""
    held = filled()
    source = aws.parameters(held)
    inventory = environment(isolated, "staging", CLOUD_GROUPS, vault=None)
    described = yaml.safe_load((REPO_ROOT / "release" / "environments" / "staging.yml").read_text())
    described["secrets"] = {"source": "aws-ssm", "name": source.name, "region": source.region}
    environments = tmp_path / "environments"
    environments.mkdir()
    (environments / "staging.yml").write_text(yaml.safe_dump(described))
    extra = f"golive_environment_file={environments / 'staging.yml'}"
    run = converge(inventory, "web.yml", "--extra-vars", extra)
    assert_refused(
        run, f"aws-ssm {source.name}: nothing.", "app_public_base_url (a placeholder)", hidden=list(held.values())
    )
