"""The lab's stack outputs (lab/outputs.py), without a lab: written by the code path `fab lab.up` writes the lab's
files with, in the very shape the Pulumi program exports, and resolved by the release into the hosts, entry point,
Prometheus and database release/environments/lab.yml listed by hand before it read them from there."""

from __future__ import annotations

import json
import stat
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from foundation.environment import EnvironmentInvalid, load_environment, pulumi_stack
from foundation.repository import REPO_ROOT
from foundation.stack_outputs import inventory
from foundation.stack_outputs.schema import SCHEMA_VERSION, StackOutputsInvalid, checked
from foundation.state import StateLayout
from lab import files, outputs
from lab.errors import LabError
from lab.layout import Layout
from lab.plan import HOSTS
from lab.render import SESSION

EXAMPLES = REPO_ROOT / "infra" / "examples"
KEYS = {host.name: f"ssh-ed25519 AAAA{host.name} root@{host.name}" for host in HOSTS}

# What release/environments/lab.yml listed by hand before it took them from the stack outputs.
LISTED = {
    "hosts": {"lb": ("lb",), "web": ("web1", "web2"), "db": ("db",), "partners": ("partners",)},
    "entry_url": "https://198.18.0.10",
    "prometheus_url": "http://198.18.0.40:9090",
    "database": "tunnel",
    "backup_host": "db",
}


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    """The lab's files written as `fab lab.up` writes them, into a state folder of this test's."""
    written = Layout(state=tmp_path / "state" / "lab", cache=tmp_path / "cache", runtime=tmp_path / "runtime")
    files.write(written, KEYS)
    return written


def shape(value: Any) -> Any:
    """The keys of every mapping, down through lists (a list's shape is its first item's)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_the_lab_writes_the_shape_the_pulumi_program_exports(layout: Layout, stack: str):
    written = json.loads(layout.stack_outputs.read_text())
    example = json.loads((EXAMPLES / f"{stack}-outputs.json").read_text())
    host = shape(example["hosts"]["web"])
    assert shape({**written, "hosts": None}) == shape({**example, "hosts": None})
    assert {role: shape(entries) for role, entries in written["hosts"].items()} == dict.fromkeys(written["hosts"], host)
    assert set(written["hosts"]) == {"lb", "web", "db", "partners"}  # the roles are data: `hosts.<role>[]`
    assert written["schema_version"] == SCHEMA_VERSION and checked(written, "lab") is written
    assert layout.stack_outputs == layout.state / "stack-outputs.json"
    assert stat.S_IMODE(layout.stack_outputs.stat().st_mode) == 0o644  # no secret in it
    assert layout.stack_outputs.read_text() == json.dumps(written, indent=2, sort_keys=True) + "\n"


def test_the_outputs_name_the_labs_real_way_in_and_nothing_it_lacks(layout: Layout):
    written = json.loads(layout.stack_outputs.read_text())
    assert written["access"] == {
        "method": "ssm",  # a session into each host, as SSM's (lab/session.py)
        "user": "admin",  # Ansible's, as the Debian AMI's
        "deploy_user": "golive-deploy",  # the release's
        "ssh_proxy_command": f"{sys.executable} {SESSION} /run/netns/golive-%n %p",
    }
    assert written["database"] == {
        "host": "198.18.0.20",
        "port": 5432,
        "name": "golive",
        "user": "golive",
        "engine_major": 15,
        "sslmode": "require",
    }
    assert written["load_balancer"] == {"dns_name": "198.18.0.10", "arn": None, "target_group_arn": None}
    assert (written["backup_bucket"], written["region"], written["alarm_topic_arn"]) == (None, None, None)
    text = inventory.render(written, "lab", "lab")  # what `fab infra.outputs` would make of them
    hosts = {line.split()[0]: line for line in text.splitlines() if " ansible_host=" in line}
    for name, address in (("web1", "198.18.0.11"), ("web2", "198.18.0.12"), ("monitoring", "198.18.0.40")):
        # at its address, through the session into its own namespace (the instance id for %h)
        assert hosts[name].startswith(f"{name} ansible_host={address} ansible_ssh_common_args=")
        assert f"/run/netns/golive-{name} %p" in hosts[name]


def test_the_release_resolves_them_into_what_lab_yml_listed(layout: Layout):
    env = load_environment("lab", state=StateLayout(layout.state.parent))
    assert env.hosts == LISTED["hosts"]
    assert env.entry_url == LISTED["entry_url"]
    assert env.monitoring is not None and env.monitoring.prometheus_url == LISTED["prometheus_url"]
    assert (env.database, env.backup_host) == (LISTED["database"], LISTED["backup_host"])
    db = env.outputs["database"]
    assert (db["host"], db["port"]) == ("198.18.0.20", 5432), "the tunnel's far end: db's PostgreSQL"


def test_without_them_the_lab_says_to_bring_the_lab_up(tmp_path: Path):
    with pytest.raises(EnvironmentInvalid) as refused:
        load_environment("lab", state=StateLayout(tmp_path))
    message = str(refused.value)
    assert message.startswith(f"environment lab: no stack outputs at {tmp_path / 'lab' / 'stack-outputs.json'}")
    assert "fab lab.up" in message and "infra.outputs" not in message
    with pytest.raises(EnvironmentInvalid, match=r"environment lab: not on Pulumi: .* written by `fab lab\.up`"):
        pulumi_stack("lab")  # `fab infra.outputs --env lab` asks for the environment's Pulumi stack


def test_lab_down_deletes_them(layout: Layout):
    files.remove(layout)
    assert not layout.stack_outputs.exists()


def test_outputs_a_reader_would_refuse_are_never_written(tmp_path: Path):
    path = tmp_path / "lab" / "stack-outputs.json"
    no_db = tuple(host for host in HOSTS if host.name != "db")
    with pytest.raises(LabError, match=r"exactly one db host, not \[\]"):
        outputs.write(path, no_db)
    assert not path.exists()
    rendered = outputs.render()
    with pytest.raises(StackOutputsInvalid, match="schema_version 1"):
        outputs.validated({**rendered, "schema_version": 1}, "x")
    nameless = {**rendered, "hosts": {"web": [{"private_ip": "198.18.0.11"}]}}
    with pytest.raises(StackOutputsInvalid, match=r"x is not a stack-outputs file \(KeyError: 'instance_id'\)"):
        outputs.validated(nameless, "x")
    with pytest.raises(StackOutputsInvalid, match=r"access\.user is missing"):
        outputs.validated({**rendered, "access": {**rendered["access"], "user": ""}}, "x")


def test_the_hosts_are_the_plans(layout: Layout):
    written = json.loads(layout.stack_outputs.read_text())
    listed = [*(h for role in written["hosts"].values() for h in role), written["monitoring"]]
    assert sorted((h["name"], h["private_ip"]) for h in listed) == sorted((h.name, str(h.address)) for h in HOSTS)
    moved = tuple(replace(h, address=h.address + 100) if h.name == "web2" else h for h in HOSTS)
    assert outputs.render(moved)["hosts"]["web"][1]["private_ip"] == "198.18.0.112"
