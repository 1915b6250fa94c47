"""The stack outputs' schema version, checked where the controller fetches them (fab infra.outputs) and where the
release loads them (foundation/environment.py); the Automation API's failures, each refused with what to do."""

from __future__ import annotations

import json

import pytest
from pulumi import automation
from pulumi.automation import CommandResult, OutputValue

from foundation.environment import EnvironmentInvalid, load_environment, parse_environment, pulumi_stack
from foundation.repository import REPO_ROOT
from foundation.stack_outputs import pulumi_stack as fetching
from foundation.stack_outputs.schema import SCHEMA_VERSION, StackOutputsInvalid, checked
from foundation.state import VARIABLE

EXAMPLE = json.loads((REPO_ROOT / "infra" / "examples" / "production-outputs.json").read_text())


@pytest.fixture(autouse=True)
def _state_in_the_repository(monkeypatch):
    monkeypatch.delenv(VARIABLE, raising=False)


def test_the_examples_carry_the_version_the_controller_knows():
    assert checked(EXAMPLE, "example") is EXAMPLE and SCHEMA_VERSION == 3


@pytest.mark.parametrize("version", [2, 4, "3", True, None])
def test_another_version_is_refused_naming_both(version):
    with pytest.raises(StackOutputsInvalid) as refused:
        checked({**EXAMPLE, "schema_version": version}, "state/x/stack-outputs.json")
    message = str(refused.value)
    assert message.startswith("state/x/stack-outputs.json: schema_version ")
    assert repr(version) in message and f"knows schema_version {SCHEMA_VERSION}" in message


def test_no_version_is_refused():
    outputs = {k: v for k, v in EXAMPLE.items() if k != "schema_version"}
    with pytest.raises(StackOutputsInvalid, match="x: no schema_version; this controller knows schema_version 3"):
        checked(outputs, "x")
    with pytest.raises(StackOutputsInvalid, match="not a stack-outputs object"):
        checked(["web-1"], "x")


def write(tmp_path, name: str, outputs) -> None:
    path = tmp_path / "state" / name / "stack-outputs.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(outputs if isinstance(outputs, str) else json.dumps(outputs))


@pytest.mark.parametrize(
    ("outputs", "named"),
    [
        ({**EXAMPLE, "schema_version": 1}, "schema_version 1, but this controller knows schema_version 3"),
        ({"hosts": {"web": ["10.0.1.10"]}, "domain": "pay.example.com"}, "no schema_version"),
        ("{not json", "not JSON"),
    ],
)
def test_the_release_refuses_such_a_file_when_it_loads_the_environment(tmp_path, outputs, named):
    write(tmp_path, "production", outputs)
    with pytest.raises(EnvironmentInvalid) as refused:
        load_environment("production", repo=tmp_path)
    assert str(refused.value).startswith("environment production: ") and named in str(refused.value)
    assert str(tmp_path / "state" / "production" / "stack-outputs.json") in str(refused.value)


def test_a_missing_file_says_which_command_writes_it(tmp_path):
    with pytest.raises(EnvironmentInvalid, match=r"fab infra\.outputs --env staging"):
        load_environment("staging", repo=tmp_path)


def test_the_environment_takes_its_prometheus_from_the_outputs_unless_it_names_one(tmp_path):
    write(tmp_path, "production", EXAMPLE)
    env = load_environment("production", repo=tmp_path)
    assert env.monitoring.prometheus_url == EXAMPLE["monitoring"]["prometheus_url"]
    assert env.web_hosts == tuple(h["instance_id"] for h in EXAMPLE["hosts"]["web"])
    base = {"name": "production", "transport": "ssh", "service_manager": "systemd", "root": "/srv/golive"}
    base |= {"instances": [{"name": "app", "port": 8000}], "stack_outputs": "production"}
    own = parse_environment({**base, "monitoring": {"prometheus_url": "http://10.9.9.9:9090"}}, tmp_path)
    assert own.monitoring.prometheus_url == "http://10.9.9.9:9090"
    job = parse_environment({**base, "monitoring": {"job": "web"}}, tmp_path).monitoring
    assert (job.prometheus_url, job.job) == (EXAMPLE["monitoring"]["prometheus_url"], "web")


def test_hosts_are_named_as_ssh_reaches_them(tmp_path):
    """By instance id through SSM, or where the environment's own ssh_config names them (the lab's); else SSH goes to
    the private address."""
    ids = tuple(h["instance_id"] for h in EXAMPLE["hosts"]["web"])
    addresses = tuple(h["private_ip"] for h in EXAMPLE["hosts"]["web"])
    write(tmp_path, "production", EXAMPLE)
    assert load_environment("production", repo=tmp_path).web_hosts == ids
    write(tmp_path, "production", {**EXAMPLE, "access": {"method": "ssh", "user": "admin", "ssh_proxy_command": None}})
    assert load_environment("production", repo=tmp_path).web_hosts == addresses
    base = {"name": "production", "transport": "ssh", "service_manager": "systemd", "root": "/srv/golive"}
    base |= {"instances": [{"name": "app", "port": 8000}], "stack_outputs": "production"}
    assert parse_environment({**base, "ssh_config": "ssh_config"}, tmp_path).web_hosts == ids


def test_what_writes_the_outputs_is_one_of_the_known_writers(tmp_path):
    base = {"name": "production", "transport": "ssh", "service_manager": "systemd", "root": "/srv/golive"}
    base |= {"instances": [{"name": "app", "port": 8000}], "stack_outputs": "production"}
    with pytest.raises(
        EnvironmentInvalid, match=r"stack_outputs_by must be one of infra.outputs, lab.up, not 'pulumi'"
    ):
        parse_environment({**base, "stack_outputs_by": "pulumi"}, tmp_path)
    write(tmp_path, "production", EXAMPLE)
    with pytest.raises(
        EnvironmentInvalid, match=r"stack_outputs_by must be one of infra.outputs, lab.up, not 'pulumi'"
    ):
        parse_environment({**base, "stack_outputs_by": "pulumi"}, tmp_path)


def test_stack_outputs_names_the_stack_not_a_file(tmp_path):
    base = {"name": "production", "transport": "ssh", "service_manager": "systemd", "root": "/srv/golive"}
    with pytest.raises(EnvironmentInvalid, match=r"stack_outputs names the Pulumi stack \(e.g. production\)"):
        parse_environment({**base, "stack_outputs": "state/production/stack-outputs.json"}, tmp_path)


def test_the_pulumi_stack_of_an_environment_comes_from_its_description_alone():
    assert pulumi_stack("staging") == ("staging", "staging")
    assert pulumi_stack("production") == ("production", "production")
    with pytest.raises(EnvironmentInvalid, match="environment local: not on Pulumi"):
        pulumi_stack("local")
    with pytest.raises(EnvironmentInvalid, match="unknown environment 'nowhere'"):
        pulumi_stack("nowhere")


# --- the Automation API (select_stack + stack.outputs()) ---


class Stack:
    """Stands in for automation.Stack: outputs() answers an OutputMap as LocalWorkspace.stack_outputs builds it
    (`pulumi stack output --json` plain and with --show-secrets; a value masked in the first is secret)."""

    def __init__(self, plain: dict, secret: tuple[str, ...] = ()):
        self.plain, self.secret = plain, secret

    def outputs(self) -> dict[str, OutputValue]:
        return {key: OutputValue(value=value, secret=key in self.secret) for key, value in self.plain.items()}


def select(stack: Stack):
    return lambda name, work_dir: stack


def test_fetch_unwraps_the_output_values():
    assert fetching.fetch("production", REPO_ROOT, select(Stack(EXAMPLE))) == EXAMPLE


def test_a_secret_output_is_refused_by_name():
    with pytest.raises(StackOutputsInvalid, match=r"exports secret outputs \(database\)"):
        fetching.fetch("production", REPO_ROOT, select(Stack(EXAMPLE, secret=("database",))))


def test_a_stack_never_updated_or_of_another_version_is_refused():
    with pytest.raises(StackOutputsInvalid, match="has no outputs: run `pulumi up --stack staging` first"):
        fetching.fetch("staging", REPO_ROOT, select(Stack({})))
    with pytest.raises(StackOutputsInvalid, match="Pulumi stack 'staging': schema_version 1, but"):
        fetching.fetch("staging", REPO_ROOT, select(Stack({**EXAMPLE, "schema_version": 1})))


def failing(exc: Exception):
    def select_stack(stack_name, work_dir):
        assert work_dir == str(REPO_ROOT)  # the repository's Pulumi.yaml: a local program, not an inline one
        raise exc

    return select_stack


@pytest.mark.parametrize(
    ("exc", "named"),
    [
        (FileNotFoundError(2, "No such file or directory", "pulumi"), "no Pulumi CLI (`pulumi` is not on PATH)"),
        (
            automation.StackNotFoundError(CommandResult("", "error: no stack named 'staging' found", 255)),
            "Pulumi stack 'staging' does not exist in the backend you are logged in to",
        ),
        (
            automation.CommandError(CommandResult("", "error: PULUMI_ACCESS_TOKEN must be set for login", 255)),
            "cannot be selected: error: PULUMI_ACCESS_TOKEN must be set for login",
        ),
    ],
)
def test_the_automation_api_failing_is_refused_with_what_to_do(monkeypatch, exc, named):
    monkeypatch.setattr(automation, "select_stack", failing(exc))
    with pytest.raises(StackOutputsInvalid) as refused:
        fetching.fetch("staging", REPO_ROOT)
    assert named in str(refused.value)


def test_outputs_that_cannot_be_read_are_refused_with_the_clis_error():
    class Broken(Stack):
        def outputs(self):
            raise automation.CommandError(CommandResult("", "warning: x\nerror: the stack is locked", 255))

    with pytest.raises(StackOutputsInvalid, match="its outputs cannot be read: error: the stack is locked"):
        fetching.fetch("staging", REPO_ROOT, select(Broken({})))


@pytest.mark.skipif(bool(__import__("shutil").which("pulumi")), reason="a Pulumi CLI is installed here")
def test_without_a_pulumi_cli_the_real_automation_api_is_refused_with_how_to_install_it():
    with pytest.raises(StackOutputsInvalid, match=r"no Pulumi CLI .*install the Pulumi CLI 3.x"):
        fetching.fetch("staging", REPO_ROOT)
