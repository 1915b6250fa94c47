"""The service's settings file as roles/app renders it (app_environment, roles/app/vars/main.yml) from each
environment's variables, by Ansible's own templating: staging and production give every setting the service
requires there (app.contract.STRICT_REQUIRED, so a setting added to it without a value in the vars fails here), their
secrets come from the vault file only, and the lab's file holds nothing the release's preflight would refuse."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from pydantic import SecretStr

from app.contract import STRICT_REQUIRED, Settings
from foundation.placeholders import unfilled
from foundation.repository import REPO_ROOT

PLAYBOOKS = REPO_ROOT / "playbooks"
ROLE = REPO_ROOT / "roles" / "app"
FROM_VAULT = "from-vault-"  # a stand-in secret: the vault file's value of the key it follows
REQUIRED = [f"GOLIVE_{name.upper()}" for name in STRICT_REQUIRED]
SECRETS = [
    f"GOLIVE_{name.upper()}" for name in STRICT_REQUIRED if "SecretStr" in str(Settings.model_fields[name].annotation)
]
# The lab's inventory as `fab lab.up` writes it (group_vars/all derives the addresses from it).
LAB_HOSTS = {"lb": "198.18.0.10", "web1": "198.18.0.11", "db": "198.18.0.20", "partners": "198.18.0.30"}
LAB_GROUPS = {"lb": ["lb"], "web": ["web1"], "db": ["db"], "partners": ["partners"], "monitoring": []}


def _files(env: str) -> list[Path]:
    """The web play's variables, lowest precedence first: role defaults, the playbooks' group_vars, the play's
    vars_files (the environment's, then its vault file: stand-ins here), the role's vars."""
    return [
        ROLE / "defaults" / "main.yml",
        *sorted((PLAYBOOKS / "group_vars" / "all").glob("*.yml")),
        PLAYBOOKS / "group_vars" / "web.yml",
        PLAYBOOKS / "vars" / f"{env}.yml",
    ]


def render(env: str, *, drop: tuple[str, ...] = ()) -> dict[str, str]:
    """GOLIVE_* as the role writes them into golive.env on a web host of `env`; `drop` leaves variables of the
    environment's file out (as an operator who forgot them would)."""
    loader = DataLoader()
    variables: dict[str, Any] = {
        "groups": LAB_GROUPS,
        "hostvars": {h: {"ansible_host": a} for h, a in LAB_HOSTS.items()},
    }
    texts = []
    for path in _files(env):
        loaded = loader.load_from_file(str(path), trusted_as_template=True) or {}
        if path.parent.name == "vars":
            loaded = {key: value for key, value in loaded.items() if key not in drop}
        variables.update(loaded)
        texts.append(path.read_text())
    vault_keys = set(re.findall(r"\bvault_\w+", "".join(texts)))
    variables.update({key: FROM_VAULT + key.removeprefix("vault_").replace("_", "-") for key in vault_keys})
    variables.update(loader.load_from_file(str(ROLE / "vars" / "main.yml"), trusted_as_template=True))
    rendered = Templar(loader=loader, variables=variables).template(trust_as_template("{{ app_environment }}"))
    return {key: str(value) for key, value in rendered.items()}


def missing(settings: dict[str, str]) -> list[str]:
    return [name for name in REQUIRED if not settings.get(name)]


def test_secret_settings_are_known():
    assert "GOLIVE_DATABASE_URL" in SECRETS and "GOLIVE_TREASURY_PRIVATE_KEY" in SECRETS
    assert Settings.model_fields["daraja_passkey"].annotation is SecretStr


@pytest.mark.parametrize("env", ["staging", "production"])
def test_every_setting_the_service_requires_is_in_the_vars(env):
    settings = render(env)
    assert missing(settings) == []
    assert settings["GOLIVE_ENV"] == env
    assert {"GOLIVE_CHAIN_RPC_URL", "GOLIVE_CHAIN_ID", "GOLIVE_USDT_TOKEN_ADDRESS"} <= set(REQUIRED)


@pytest.mark.parametrize("env", ["staging", "production"])
def test_secrets_come_from_the_vault_never_the_vars(env):
    settings = render(env)
    plain = [name for name in SECRETS if FROM_VAULT not in settings[name]]
    assert plain == [], f"{env}: secrets written in plain text in playbooks/vars/{env}.yml"
    assert settings["GOLIVE_CHAIN_RPC_URL"] == FROM_VAULT + "chain-rpc-url"  # the provider's URL holds its API key


def test_a_required_setting_left_out_of_the_vars_is_named():
    assert missing(render("production", drop=("app_chain_id",))) == ["GOLIVE_CHAIN_ID"]
    assert missing(render("production", drop=("app_settings",))) == ["GOLIVE_DARAJA_SHORTCODE", "GOLIVE_DARAJA_PASSKEY"]


def test_production_pays_out_tethers_usdt_on_ethereum():
    settings = render("production")
    assert settings["GOLIVE_CHAIN_ID"] == "1"
    assert settings["GOLIVE_USDT_TOKEN_ADDRESS"] == "0xdAC17F958D2ee523a2206206994597C13D831ec7"


def test_the_vars_as_committed_would_be_refused_until_an_operator_fills_them_in():
    """The CHANGE-ME values stand for stack outputs and an operator's own: preflight names each (not a value)."""
    refused = unfilled(render("production"))
    assert "GOLIVE_DARAJA_SHORTCODE (a placeholder)" in refused
    assert "GOLIVE_PUBLIC_BASE_URL (a placeholder)" in refused


def test_the_labs_settings_hold_nothing_preflight_refuses():
    settings = render("lab")
    assert settings["GOLIVE_ENV"] == "lab"
    assert settings["GOLIVE_CHAIN_RPC_URL"] == "http://198.18.0.30:8545"
    assert unfilled(settings) == []


@pytest.mark.parametrize(
    ("env", "bundle"),
    [
        ("lab", "/etc/ssl/certs/ca-certificates.crt"),  # the system's, the lab CA among them (roles/tls)
        ("staging", "/etc/ssl/golive/rds-global-bundle.pem"),
        ("production", "/etc/ssl/golive/rds-global-bundle.pem"),
    ],
)
def test_every_environment_verifies_its_database_against_a_ca_bundle(env, bundle):
    query = parse_qs(urlsplit(render(env)["GOLIVE_DATABASE_URL"]).query)
    assert query == {"sslmode": ["verify-full"], "sslrootcert": [bundle]}
