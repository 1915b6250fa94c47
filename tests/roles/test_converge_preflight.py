"""The converge refuses a setting nobody filled in before it changes any host (playbooks/preflight.yml, first in
baseline.yml): the release preflight's rule (foundation/placeholders.py) through the golive_unfilled filter
(playbooks/filter_plugins/placeholders.py), naming the key and the file to fix, never the value.

No lab: the real ansible-playbook runs the real playbooks against an inventory of its own in tmp_path whose hosts
cannot be reached (SSH to a closed loopback port), with `--tags` naming no task, so only tasks tagged `always` run
(the preflight's), and `--check` besides. The vault password and Ansible's temporary files are tmp_path's too:
nothing on this machine changes."""

from __future__ import annotations

import importlib.util
import json
import secrets
from pathlib import Path

import pytest
import yaml

import foundation.placeholders
from foundation.repository import REPO_ROOT
from tests.support.lab import ansible_run
from tests.support.secrets_server import CREDENTIALS, secrets_server

PLUGIN_FILE = REPO_ROOT / "playbooks" / "filter_plugins" / "placeholders.py"
LAB_GROUPS = {"lb": ["lb1"], "web": ["web1", "web2"], "db": ["db1"], "partners": ["partners1"], "monitoring": ["mon1"]}
# staging/production: the inventory `fab infra.outputs` writes (web and monitoring hosts only)
CLOUD_GROUPS = {"web": ["web1"], "monitoring": ["mon1"]}
PLAYBOOKS = ["site.yml", "baseline.yml", "db.yml", "partners.yml", "web.yml", "lb.yml", "monitoring.yml"]
NO_TASK = "golive-no-such-tag"  # only tasks tagged always run


def filled_secrets() -> dict[str, str]:
    """Every key of a staging/production vault file (foundation/secrets/keys.py), filled in."""
    return {
        "vault_postgresql_app_password": secrets.token_hex(16),
        "vault_daraja_consumer_key": secrets.token_hex(16),
        "vault_daraja_consumer_secret": secrets.token_hex(16),
        "vault_callback_secret": secrets.token_hex(24),
        "vault_treasury_private_key": "0x" + secrets.token_hex(32),
        "vault_daraja_passkey": secrets.token_hex(32),
        "vault_chain_rpc_url": f"https://rpc.example.net/v2/{secrets.token_hex(16)}",
    }


def environment(base: Path, env: str, groups: dict[str, list[str]], vault: dict[str, str] | None) -> Path:
    """base/<env>/inventory.ini (the folder names the environment) and, unless None, its secrets.yml (plain YAML:
    vars_files read it as they read a vaulted one)."""
    folder = base / env
    folder.mkdir(parents=True)
    lines = []
    for group, hosts in groups.items():
        lines += [f"[{group}]", *(f"{host} ansible_host=127.0.0.1 ansible_port=1" for host in hosts), ""]
    lines += ["[all:vars]", "ansible_connection=ssh", "ansible_ssh_common_args='-o BatchMode=yes -F /dev/null'"]
    (folder / "inventory.ini").write_text("\n".join(lines) + "\n")
    if vault is not None:
        (folder / "secrets.yml").write_text(yaml.safe_dump(vault))
    return folder / "inventory.ini"


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Ansible's vault password, temporary files and fact cache kept in tmp_path (not the lab's state/lab); no play
    gathers facts unless it says so (none of these reaches a host)."""
    (tmp_path / "vault-password").write_text(secrets.token_hex(24) + "\n")
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(tmp_path / "vault-password"))
    monkeypatch.setenv("ANSIBLE_LOCAL_TEMP", str(tmp_path / "ansible-local"))
    monkeypatch.setenv("ANSIBLE_REMOTE_TEMP", str(tmp_path / "ansible-remote"))
    monkeypatch.setenv("ANSIBLE_CACHE_PLUGIN", "memory")
    monkeypatch.setenv("ANSIBLE_GATHERING", "explicit")
    return tmp_path


def converge(inventory: Path, playbook: str = "site.yml", *args: str) -> ansible_run.Run:
    command = [str(ansible_run.BIN / "ansible-playbook"), "-i", str(inventory), f"playbooks/{playbook}"]
    return ansible_run.run([*command, "--check", "--tags", NO_TASK, *args], timeout=300)


def assert_refused(run: ansible_run.Run, *named: str, hidden: list[str]) -> None:
    """Refused (an assertion failed, nothing changed) naming every one of `named`, showing none of `hidden`."""
    assert run.returncode != 0, run.tail()
    for text in named:
        assert text in run.output, run.tail()
    shown = [value for value in hidden if value in run.output]
    assert shown == [], "values shown in the output"
    hosts = ansible_run.recap(run.output)
    assert sum(counts["failed"] for counts in hosts.values()) >= 1
    assert all(counts["changed"] == 0 for counts in hosts.values()), hosts


def test_the_filter_is_the_release_rule_over_every_nested_key_never_a_value():
    plugin = _load_plugin()
    assert plugin.unfilled is foundation.placeholders.unfilled
    found = plugin.FilterModule().filters()["golive_unfilled"](
        {
            "app_public_base_url": "https://CHANGE-ME.example",
            "app_settings": {"GOLIVE_DARAJA_SHORTCODE": "", "GOLIVE_LOG_LEVEL": "INFO"},
            "golive_controller_addresses": ["203.0.113.7/32", "<bastion>/32"],
            "app_database_host": None,
            "common_ntp_servers": [],
            "common_sysctl_kernel": {},
            "app_chain_id": 1,
            "nginx_ssl_stapling": False,
        }
    )
    assert found == [
        "app_public_base_url (a placeholder)",
        "app_settings.GOLIVE_DARAJA_SHORTCODE (empty)",
        "golive_controller_addresses[1] (a placeholder)",
        "app_database_host (empty)",
    ]
    assert plugin.golive_unfilled(None) == []  # an empty vars file
    with pytest.raises(TypeError, match="takes a mapping of settings, not a str"):
        plugin.golive_unfilled("CHANGE-ME")


@pytest.mark.slow
@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_a_placeholder_in_the_vault_file_stops_every_playbook_before_any_host(isolated, playbook):
    vault = filled_secrets() | {"vault_callback_secret": "<the callback secret, 32+ characters>"}
    inventory = environment(isolated, "lab", LAB_GROUPS, vault)
    run = converge(inventory, playbook)
    secrets_file = str(inventory.parent / "secrets.yml")
    assert_refused(run, "vault_callback_secret (a placeholder)", secrets_file, hidden=list(vault.values()))


@pytest.mark.slow
def test_an_empty_vault_value_is_refused_by_its_key(isolated):
    vault = filled_secrets() | {"vault_daraja_consumer_key": ""}
    inventory = environment(isolated, "lab", LAB_GROUPS, vault)
    named = ("vault_daraja_consumer_key (empty)", str(inventory.parent / "secrets.yml"))
    assert_refused(converge(inventory), *named, hidden=[value for value in vault.values() if value])


@pytest.mark.slow
@pytest.mark.parametrize("env", ["staging", "production"])
def test_the_committed_vars_of_staging_and_production_are_refused_until_filled_in(
    isolated, env, monkeypatch: pytest.MonkeyPatch
):
    """Their CHANGE-ME values stand for stack outputs and an operator's own: each is named with its file. Their
    secrets come from the Secrets Manager secret their descriptions name (moto's server here), filled in."""
    vault = filled_secrets()
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with secrets_server() as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
        server.secret(vault, f"golive/{env}")
        inventory = environment(isolated, env, CLOUD_GROUPS, vault=None)
        named = [
            str(REPO_ROOT / "playbooks" / "vars" / f"{env}.yml"),
            "golive_controller_addresses[0] (a placeholder)",
            "golive_lb_addresses[0] (a placeholder)",
            "app_public_base_url (a placeholder)",
            "app_database_host (a placeholder)",
            # an account without a key could not log in: the admins' (Ansible's) and the release's
            "common_admin_authorized_keys (no key: nobody could log in as it)",
            "common_deploy_authorized_keys (no key: nobody could log in as it)",
            f"aws-secretsmanager golive/{env}: nothing.",  # the secrets are filled in
        ]
        named += ["app_usdt_token_address (a placeholder)"] if env == "staging" else []
        named += ["app_settings.GOLIVE_DARAJA_SHORTCODE (a placeholder)"] if env == "production" else []
        assert_refused(converge(inventory, "web.yml"), *named, hidden=["CHANGE-ME", *vault.values()])


@pytest.mark.slow
def test_the_service_environment_the_app_role_renders_is_refused_when_a_setting_is_unfilled(isolated):
    """A setting left at the role's empty default, or a placeholder from anywhere (extra vars here), is named as the
    GOLIVE_* key golive.env would hold."""
    vault = filled_secrets()
    inventory = environment(isolated, "lab", LAB_GROUPS, vault)
    extra = json.dumps({"app_public_base_url": "", "app_database_host": "<db host>"})
    run = converge(inventory, "site.yml", "--extra-vars", extra)
    named = ("GOLIVE_PUBLIC_BASE_URL (empty)", "GOLIVE_DATABASE_URL (a placeholder)", "roles/app/defaults/main.yml")
    assert_refused(run, *named, hidden=["<db host>", *vault.values()])


@pytest.mark.slow
def test_the_labs_generated_secrets_and_vars_pass(isolated):
    """secrets.yml generates the lab's throwaway vault file (here in tmp_path) as it does for `fab lab.up`; with it and
    playbooks/vars/lab.yml the preflight passes on every host, and the web hosts' service environment is checked."""
    inventory = environment(isolated, "lab", LAB_GROUPS, vault=None)
    generated = ansible_run.run(
        [str(ansible_run.BIN / "ansible-playbook"), "-i", str(inventory), "playbooks/secrets.yml"], timeout=300
    )
    assert generated.returncode == 0, generated.tail()
    assert (inventory.parent / "secrets.yml").read_text().startswith("$ANSIBLE_VAULT;")

    run = converge(inventory)
    assert run.returncode == 0, run.tail()
    hosts = ansible_run.recap(run.output)
    assert set(hosts) == {host for group in LAB_GROUPS.values() for host in group}
    assert all(counts["failed"] == counts["changed"] == counts["unreachable"] == 0 for counts in hosts.values())
    assert "TASK [app : Every setting of the service's environment is filled in]" in run.output
    assert all(hosts[web]["ok"] == 2 for web in LAB_GROUPS["web"])  # the include and its assertion


def _load_plugin():
    spec = importlib.util.spec_from_file_location("golive_filter_placeholders", PLUGIN_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
