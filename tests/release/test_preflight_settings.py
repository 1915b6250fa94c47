"""A release whose settings file holds an empty or placeholder value is refused at preflight (exit 2), the key
named and its value never shown, before any step that changes a host; a complete set goes on. The engine, its
preflight `checks` step, the controller's checks run and the settings check are the real ones; the steps that would
touch hosts only record that they ran."""

from __future__ import annotations

import dataclasses
import io
import secrets as tokens
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from checks import catalogue
from checks import phases as check_phases
from foundation.environment import parse_environment
from foundation.fleet import Deployed
from foundation.reporter import Reporter
from foundation.secrets.keys import REQUIRED
from foundation.secrets.source import SecretSource
from foundation.state import StateLayout
from release import engine as engine_module
from release.controller import Controller
from release.engine import HANDLERS
from release.exit_codes import ExitCode
from release.plan import Action
from tests.support.processes import free_port
from tests.support.secrets_server import CREDENTIALS, REGION, SecretsServer, secrets_server
from tests.support.settings_file import PRODUCTION, SECRETS, write_settings

DEPLOYED = Deployed("r3", "v3", "r2", ("r1", "r2", "r3"))
SETTINGS_ITEMS = [item for item in catalogue.load() if item.check == "settings.required"]


class _Resolved:
    version, git_sha, dirty = "v4", "0" * 40, False


@pytest.fixture
def release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """release(settings) -> (exit code, what was said, the actions that ran, the audit record)."""
    root = tmp_path / "root"
    env = parse_environment(
        {
            "name": "production",
            "transport": "local",
            "service_manager": "supervisord",
            "load_balancer": "none",
            "root": str(root),
            "hosts": {"web": ["localhost"]},
            "instances": [{"name": "web1", "port": 9}],
            "entry_url": "https://pay.example.com",
            "database": "url",
        }
    )
    ran: list[Action] = []

    def stand_in(_engine, step, run):
        ran.append(step.action)
        if step.action == Action.LOCK:
            run.record["lock_fence"] = 1

    for action in Action:
        if action != Action.CHECKS:
            monkeypatch.setitem(HANDLERS, action, stand_in)
    # The pre-deploy phase is the settings check alone (the others would probe hosts this test has not got).
    monkeypatch.setattr(check_phases, "load", lambda known_checks=None: SETTINGS_ITEMS)
    monkeypatch.setattr(engine_module.Fleet, "deployed", lambda self, **_: DEPLOYED)
    monkeypatch.setattr(engine_module.artifacts, "resolve_version", lambda repo, ref: _Resolved())

    def run(settings: dict[str, str], secrets: SecretSource | None = None):
        write_settings(root, settings)
        console = io.StringIO()
        controller = Controller(
            dataclasses.replace(env, secrets=secrets) if secrets else env,
            state=StateLayout(tmp_path / "state"),
            reporter=Reporter(Console(file=console, width=300)),
            db_url="postgresql://golive@127.0.0.1:1/golive",
        )
        code = controller.engine.release("v4")
        return code, console.getvalue(), list(ran), controller.audit.entries()[-1]

    return run


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("GOLIVE_DARAJA_SHORTCODE", "CHANGE-ME", "GOLIVE_DARAJA_SHORTCODE (a placeholder)"),
        ("GOLIVE_DARAJA_PASSKEY", "<from the Daraja portal>", "GOLIVE_DARAJA_PASSKEY (a placeholder)"),
        ("GOLIVE_USDT_TOKEN_ADDRESS", "", "GOLIVE_USDT_TOKEN_ADDRESS (empty)"),
    ],
)
def test_a_placeholder_or_empty_setting_refuses_before_any_change(release, key, value, named):
    code, said, ran, record = release({**PRODUCTION, key: value})
    assert code == ExitCode.REFUSED
    assert f"not filled in: {named}" in said
    assert "refused before any change: required pre-deploy checks failed: pre-2-1" in said
    assert ran == [Action.LOCK, Action.REACH, Action.DATABASE], ran  # nothing after the checks ran
    assert record["outcome"] == "refused" and record["exit_code"] == 2
    for secret in (*SECRETS.values(), value):
        assert not secret or secret not in said


def test_a_complete_set_passes_preflight_and_the_release_goes_on(release):
    code, said, ran, record = release(PRODUCTION)
    assert code == ExitCode.OK, said
    assert "pre-2-1 pass: present and valid (values not shown)" in said
    assert {Action.ARTIFACT, Action.SWITCH, Action.OBSERVE} <= set(ran)
    assert record["outcome"] == "released"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[SecretsServer]:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with secrets_server() as server:
        yield server


def test_an_empty_secret_in_the_declared_aws_source_refuses_naming_key_and_source(release, aws: SecretsServer):
    held = {key: f"v-{tokens.token_hex(12)}" for key in REQUIRED} | {"vault_daraja_consumer_secret": ""}
    source = aws.secret(held, "golive/production")
    code, said, ran, record = release(PRODUCTION, source)
    assert code == ExitCode.REFUSED
    assert "secret vault_daraja_consumer_secret: empty in aws-secretsmanager golive/production" in said
    assert ran == [Action.LOCK, Action.REACH, Action.DATABASE], ran  # nothing after the checks ran
    assert record["outcome"] == "refused"
    for value in (*held.values(), *SECRETS.values()):
        assert not value or value not in said


def test_a_filled_aws_source_passes_preflight(release, aws: SecretsServer):
    held = {key: f"v-{tokens.token_hex(12)}" for key in REQUIRED}
    code, said, _, record = release(PRODUCTION, aws.secret(held, "golive/production-filled"))
    assert code == ExitCode.OK, said
    assert "pre-2-1 pass: present and valid (values not shown)" in said and record["outcome"] == "released"
    assert all(value not in said for value in held.values())


def test_an_unreachable_source_refuses_before_any_change(release, monkeypatch: pytest.MonkeyPatch):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    closed = f"http://127.0.0.1:{free_port()}"
    code, said, ran, _ = release(PRODUCTION, SecretSource("aws-ssm", "/golive/production/", REGION, closed))
    assert code == ExitCode.REFUSED
    assert f"secrets not read: aws-ssm /golive/production/ ({REGION}): cannot reach {closed}" in said
    assert ran == [Action.LOCK, Action.REACH, Action.DATABASE], ran
