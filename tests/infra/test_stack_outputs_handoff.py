"""The hand-off end to end: the Pulumi program's own outputs (under mocks), answered by a stand-in for the
Automation API's stack, written by `fab infra.outputs`'s code into the state folder and read back by the release
(foundation/environment.py) and by Ansible (the real ansible-inventory)."""

from __future__ import annotations

import json
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pulumi.automation import OutputValue

from foundation.environment import load_environment
from foundation.stack_outputs.handoff import hand_off
from foundation.stack_outputs.schema import StackOutputsInvalid
from foundation.state import VARIABLE, StateLayout
from infra.offline.runner import StackRun, run_stack

ANSIBLE_INVENTORY = Path(sys.executable).parent / "ansible-inventory"


class Stack:
    """automation.Stack's outputs(): an OutputMap of OutputValue, as LocalWorkspace.stack_outputs returns it."""

    def __init__(self, run: StackRun):
        self.plain = json.loads(json.dumps(run.outputs))  # what `pulumi stack output --json --show-secrets` prints

    def outputs(self) -> dict[str, OutputValue]:
        return {key: OutputValue(value=value, secret=False) for key, value in self.plain.items()}


def handed_off(run: StackRun, repo: Path, monkeypatch):
    monkeypatch.delenv(VARIABLE, raising=False)
    state = StateLayout.default(repo)
    return state, hand_off(run.stack, run.stack, state, select=lambda name, work_dir: Stack(run))


def ansible_inventory(path: Path) -> dict:
    listed = subprocess.run(
        [str(ANSIBLE_INVENTORY), "-i", str(path), "--list"], capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(listed.stdout)


def test_the_release_reads_hosts_access_and_prometheus_from_the_file_written(tmp_path, monkeypatch, each_stack):
    _, done = handed_off(each_stack, tmp_path, monkeypatch)
    assert done.outputs == tmp_path / "state" / each_stack.stack / "stack-outputs.json"
    assert json.loads(done.outputs.read_text()) == json.loads(json.dumps(each_stack.outputs))
    assert stat.S_IMODE(done.outputs.stat().st_mode) == 0o644
    env = load_environment(each_stack.stack, repo=tmp_path)
    out = each_stack.outputs
    assert env.web_hosts == tuple(h["instance_id"] for h in out["hosts"]["web"])  # through SSM: the instance ids
    assert env.monitoring is not None and env.monitoring.prometheus_url == out["monitoring"]["prometheus_url"]
    assert env.entry_url == out["url"] and env.outputs["access"] == out["access"]
    assert done.hosts == {"web": [h["name"] for h in out["hosts"]["web"]], "monitoring": ["monitoring"]}


def test_ansible_reads_hosts_by_role_at_their_addresses_through_the_ssm_proxy(tmp_path, monkeypatch, staging):
    _, done = handed_off(staging, tmp_path, monkeypatch)
    assert stat.S_IMODE(done.inventory.stat().st_mode) == 0o644
    inventory = ansible_inventory(done.inventory)
    hosts = {h["name"]: h for h in [*staging.outputs["hosts"]["web"], staging.outputs["monitoring"]]}
    assert inventory["web"]["hosts"] == ["web-1", "web-2"] and inventory["monitoring"]["hosts"] == ["monitoring"]
    access = staging.outputs["access"]
    for name, host in hosts.items():
        variables = inventory["_meta"]["hostvars"][name]
        assert variables["ansible_host"] == host["private_ip"]  # the roles' firewalls take addresses from it
        assert variables["ansible_user"] == access["user"] == "admin"
        assert variables["ansible_become"] == "true"  # an INI group variable: Ansible reads it as a boolean
        option, proxy = shlex.split(variables["ansible_ssh_common_args"])  # as Ansible hands it to ssh
        assert option == "-o"
        assert proxy == "ProxyCommand=" + access["ssh_proxy_command"].replace("%h", host["instance_id"])


def test_with_ssh_access_ansible_connects_straight_to_the_private_addresses(tmp_path, monkeypatch):
    run = run_stack("staging", {"golive:access": "ssh", "golive:adminCidr": "10.99.0.0/16"})
    _, done = handed_off(run, tmp_path, monkeypatch)
    variables = ansible_inventory(done.inventory)["_meta"]["hostvars"]
    assert variables["web-1"]["ansible_host"] == run.outputs["hosts"]["web"][0]["private_ip"]
    assert all("ansible_ssh_common_args" not in v for v in variables.values())
    assert load_environment("staging", repo=tmp_path).web_hosts == tuple(
        h["private_ip"] for h in run.outputs["hosts"]["web"]
    )


def test_a_refused_hand_off_leaves_the_files_there_untouched(tmp_path, monkeypatch, staging):
    state, done = handed_off(staging, tmp_path, monkeypatch)
    before = (done.outputs.read_text(), done.inventory.read_text())
    old = Stack(staging)
    old.plain["schema_version"] = 1
    with pytest.raises(StackOutputsInvalid, match="schema_version 1, but this controller knows schema_version 3"):
        hand_off("staging", "staging", state, select=lambda name, work_dir: old)
    hostless = Stack(staging)
    hostless.plain["hosts"] = {"web": []}
    hostless.plain.pop("monitoring")
    with pytest.raises(StackOutputsInvalid, match="no hosts"):
        hand_off("staging", "staging", state, select=lambda name, work_dir: hostless)
    assert (done.outputs.read_text(), done.inventory.read_text()) == before
    assert sorted(p.name for p in done.outputs.parent.iterdir()) == ["inventory.ini", "stack-outputs.json"]
