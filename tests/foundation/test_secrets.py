"""An environment's secrets from the source its description declares (foundation/secrets/), by one code path: real
HTTP to moto's Secrets Manager and SSM Parameter Store on a loopback port, a real ansible-vault file for the vault
source. What preflight refuses names the key and the source, never a value; nothing read is printed."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from botocore.exceptions import ClientError

from foundation.environment import ENVIRONMENTS_DIR, EnvironmentInvalid, parse_environment
from foundation.placeholders import problem
from foundation.repository import REPO_ROOT
from foundation.secrets import aws, commands
from foundation.secrets.keys import OPTIONAL, REQUIRED
from foundation.secrets.resolve import refusals, secret, values
from foundation.secrets.source import SecretSource, SecretsUnavailable, parse_source
from foundation.state import StateLayout
from tests.support.processes import free_port
from tests.support.secrets_server import CREDENTIALS, REGION, SecretsServer, secrets_server


@pytest.fixture(scope="module")
def server() -> Iterator[SecretsServer]:
    with secrets_server() as running:
        yield running


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_SSM"):
        monkeypatch.delenv(name, raising=False)


def filled() -> dict[str, str]:
    """Every required key with a fresh random value (each test its own, so finding one in output means a leak)."""
    return {key: f"s-{secrets.token_hex(16)}" for key in REQUIRED}


def assert_hidden(said: str, held: dict[str, str]) -> None:
    for value in held.values():
        if value and len(value) >= 4:
            assert value not in said


def test_a_secrets_manager_secret_gives_every_key(server: SecretsServer, tmp_path: Path, capfd):
    held = filled() | {"vault_backup_key": secrets.token_urlsafe(40)}
    source = server.secret(held)
    assert values(source, tmp_path) == held
    assert secret(source, tmp_path, "vault_postgresql_app_password") == held["vault_postgresql_app_password"]
    assert refusals(source, tmp_path) == []
    assert_hidden("".join(capfd.readouterr()), held)


def test_ssm_parameters_under_a_path_give_every_key(server: SecretsServer, tmp_path: Path):
    held = filled()
    source = server.parameters(held)
    assert values(source, tmp_path) == held
    assert refusals(source, tmp_path) == []


REFUSED = [
    ({"vault_daraja_passkey": None}, "secret vault_daraja_passkey: missing in"),
    ({"vault_daraja_consumer_secret": ""}, "secret vault_daraja_consumer_secret: empty in"),
    ({"vault_callback_secret": "<the callback secret>"}, "secret vault_callback_secret: a placeholder in"),
    ({"vault_backup_key": "CHANGE-ME"}, "secret vault_backup_key: a placeholder in"),  # optional, yet held
]


@pytest.mark.parametrize(
    ("kind", "change", "refused"),
    [("aws-secretsmanager", *case) for case in REFUSED]
    # SSM refuses an empty parameter itself (a Value has at least one character)
    + [("aws-ssm", *case) for case in REFUSED if "" not in case[0].values()],
)
def test_missing_empty_or_placeholder_is_refused_naming_key_and_source(
    server: SecretsServer, tmp_path: Path, kind: str, change: dict, refused: str
):
    held = {key: value for key, value in (filled() | change).items() if value is not None}
    source = server.secret(held) if kind == "aws-secretsmanager" else server.parameters(held)
    found = refusals(source, tmp_path)
    assert found == [f"{refused} {source.describe()}"]
    assert_hidden("\n".join(found), held)
    (key,) = change
    with pytest.raises(SecretsUnavailable, match=key) as raised:
        secret(source, tmp_path, key)
    assert_hidden(str(raised.value), held)


def test_a_wrong_typed_value_is_refused(server: SecretsServer, tmp_path: Path):
    source = server.secret(filled() | {"vault_daraja_consumer_key": ["a", "b"], "vault_callback_secret": None})
    assert refusals(source, tmp_path) == [
        f"secret vault_daraja_consumer_key: wrong type (a list, not text) in {source.describe()}",
        f"secret vault_callback_secret: empty in {source.describe()}",
    ]
    listed = server.parameters(filled(), kinds={"vault_chain_rpc_url": "StringList"})
    assert refusals(listed, tmp_path) == [
        f"secret vault_chain_rpc_url: wrong type (a list, not text) in {listed.describe()}"
    ]


@pytest.mark.parametrize(
    ("stored", "said"),
    [
        ('["not", "an", "object"]', "wrong type, a JSON list, not a JSON object of keys"),
        ("just-a-password", "wrong type, plain text, not a JSON object of keys"),
        (None, "wrong type, a binary secret, not a JSON object of keys"),
    ],
)
def test_a_secret_that_is_no_json_object_is_refused(server: SecretsServer, tmp_path: Path, stored, said: str):
    source = server.secret(stored, binary=stored is None)
    with pytest.raises(SecretsUnavailable) as raised:
        refusals(source, tmp_path)
    assert str(raised.value) == f"{source.describe()} ({REGION}): {said}"
    assert "just-a-password" not in str(raised.value)


def test_no_such_secret_says_how_to_create_it(server: SecretsServer, tmp_path: Path):
    source = SecretSource("aws-secretsmanager", "golive/nowhere", REGION, server.url)
    with pytest.raises(SecretsUnavailable, match=r"golive/nowhere \(eu-west-1\): no such secret in eu-west-1; create"):
        refusals(source, tmp_path)


def test_an_empty_ssm_path_refuses_every_required_key(server: SecretsServer, tmp_path: Path):
    source = SecretSource("aws-ssm", "/golive/nothing-here/", REGION, server.url)
    assert refusals(source, tmp_path) == [f"secret {key}: missing in aws-ssm /golive/nothing-here/" for key in REQUIRED]


@pytest.mark.parametrize("kind, name", [("aws-secretsmanager", "golive/x"), ("aws-ssm", "/golive/x/")])
def test_an_unreachable_endpoint_is_said_with_what_to_fix(tmp_path: Path, kind: str, name: str):
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SecretsUnavailable) as raised:
        values(SecretSource(kind, name, REGION, closed), tmp_path)
    assert str(raised.value) == (
        f"{kind} {name} ({REGION}): cannot reach {closed}; check the region ({REGION}), endpoint_url and this "
        "controller's network"
    )


@pytest.mark.parametrize(
    ("code", "said"),
    [
        (
            "AccessDeniedException",
            "access denied (AccessDeniedException); the controller's AWS identity needs "
            "secretsmanager:GetSecretValue on it",
        ),
        ("DecryptionFailure", "its KMS key would not decrypt it (DecryptionFailure); the identity needs kms:Decrypt"),
        ("ThrottlingException", "secretsmanager answered ThrottlingException"),
    ],
)
def test_an_aws_refusal_is_said_for_a_person(code: str, said: str):
    # moto's server grants every request: the refusal is built as botocore raises it from AWS's answer.
    source = SecretSource("aws-secretsmanager", "golive/production", REGION)
    error = ClientError({"Error": {"Code": code, "Message": "m"}}, "GetSecretValue")
    assert aws._refused(source, aws.request(source), error).startswith(f"{source.describe()} ({REGION}): {said}")


def _vault(state: Path, held: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    state.mkdir(parents=True, exist_ok=True)
    password = state.parent / "vault-password-file"
    password.write_text(secrets.token_hex(16) + "\n")
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(password))
    (state / "secrets.yml").write_text(yaml.safe_dump(held))
    vault = Path(sys.executable).parent / "ansible-vault"
    subprocess.run([str(vault), "encrypt", str(state / "secrets.yml")], check=True, capture_output=True)


def _described(name: str, state: StateLayout):
    """release/environments/<name>.yml as the release parses it, with the example stack outputs for AWS ones."""
    example = REPO_ROOT / "infra" / "examples" / f"{name}-outputs.json"
    if example.exists():
        state.stack_outputs(name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(example, state.stack_outputs(name))
    return parse_environment(yaml.safe_load((ENVIRONMENTS_DIR / f"{name}.yml").read_text()), state=state)


@pytest.mark.parametrize("name", ["staging", "production"])
def test_staging_and_production_resolve_from_their_declared_aws_source(
    server: SecretsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
):
    state = StateLayout(tmp_path / "state")
    env = _described(name, state)
    assert env.secrets == SecretSource("aws-secretsmanager", f"golive/{name}", REGION)  # data: no endpoint of ours
    held = filled()
    server.secret(held, env.secrets.name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)  # boto3's own configuration points it at moto's server
    assert refusals(env.secrets, state.environment(name)) == []
    assert secret(env.secrets, state.environment(name), "vault_callback_secret") == held["vault_callback_secret"]


def test_a_vault_source_goes_the_same_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    state = StateLayout(tmp_path / "state")
    lab = yaml.safe_load((ENVIRONMENTS_DIR / "lab.yml").read_text())  # its hosts come from `fab lab.up`
    source = parse_source(
        lab["secrets"], "lab: secrets"
    )  # generated: the lab's vault file, written by playbooks/secrets.yml
    held = filled() | {"vault_daraja_passkey": ""}
    _vault(state.environment("lab"), held, monkeypatch)
    assert secret(source, state.environment("lab"), "vault_chain_rpc_url") == held["vault_chain_rpc_url"]
    assert refusals(source, state.environment("lab")) == []  # generated: the tooling fills it, nothing to refuse
    vault = SecretSource("vault")
    secrets_file = state.environment("lab") / "secrets.yml"
    assert refusals(vault, state.environment("lab")) == [f"secret vault_daraja_passkey: empty in {secrets_file}"]


def test_a_source_nobody_reads_is_refused(tmp_path: Path):
    with pytest.raises(SecretsUnavailable, match="the controller reads no secrets from source pulumi"):
        refusals(SecretSource("pulumi"), tmp_path)


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ({"source": "aws-ssm", "name": "golive/x", "region": REGION}, "secrets.name is an SSM path beginning with '/'"),
        ({"source": "aws-secretsmanager", "name": "golive/x"}, "secrets.region is required for source"),
        ({"source": "vault", "region": REGION}, "secrets.name, region and endpoint_url belong to an AWS source"),
        ({"source": "aws-kms", "name": "x", "region": REGION}, "secrets.source must be one of"),
        ({"source": "vault", "path": "/x"}, "secrets: unknown keys path (known: endpoint_url, name, region, source)"),
    ],
)
def test_a_malformed_declaration_is_refused_naming_the_key(raw: dict, said: str):
    local = yaml.safe_load((ENVIRONMENTS_DIR / "local.yml").read_text())
    with pytest.raises(EnvironmentInvalid, match=re.escape(f"environment local: {said}")):
        parse_environment({**local, "secrets": raw})


def test_the_create_commands_come_from_the_declaration_and_the_keys():
    production = commands.for_environment("production")
    assert commands.commands(production, "f") == [
        "aws secretsmanager create-secret --region eu-west-1 --name golive/production --secret-string file://f.json"
    ]
    template = json.loads(commands.template())
    assert list(template) == list(REQUIRED) and not set(template) & set(OPTIONAL)
    # an unfilled template is what preflight refuses
    assert all(why == "a placeholder" for why in (problem(value) for value in template.values()))
    ssm = SecretSource("aws-ssm", "/golive/staging/", REGION, "http://127.0.0.1:1")
    assert commands.commands(ssm, "d")[0] == (
        "aws ssm put-parameter --region eu-west-1 --endpoint-url http://127.0.0.1:1 --type SecureString "
        "--name /golive/staging/vault_postgresql_app_password --value file://d/vault_postgresql_app_password"
    )
