"""Draining a host from the load balancer: the ALB driver against moto's elbv2 (AWS cannot be reached
here), the refusal for a balancer without a driver, and nothing to do without a balancer."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from foundation.environment import load_environment
from foundation.repository import REPO_ROOT
from foundation.transport import CommandResult
from release.balancers import AlbTargetGroup, DrainTimeout, NginxUpstreams, NoBalancer, balancer_for

REGION = "eu-west-1"


@pytest.fixture
def target_group():
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.10.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.10.1.0/24")["Subnet"]["SubnetId"]
        instances = ec2.run_instances(ImageId="ami-12c6146b", MinCount=2, MaxCount=2, SubnetId=subnet)["Instances"]
        elbv2 = boto3.client("elbv2", region_name=REGION)
        arn = elbv2.create_target_group(
            Name="golive-web", Protocol="HTTP", Port=8000, VpcId=vpc, TargetType="instance"
        )["TargetGroups"][0]["TargetGroupArn"]
        ids = [instance["InstanceId"] for instance in instances]
        elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": i, "Port": 8000} for i in ids])
        yield elbv2, arn, ids


def _registered(elbv2, arn) -> set[str]:
    return {d["Target"]["Id"] for d in elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]}


def test_drain_takes_one_host_out_and_undrain_brings_it_back(target_group):
    elbv2, arn, (first, second) = target_group
    driver = AlbTargetGroup(elbv2, arn, 8000, drain_seconds=1, poll=0.01)

    assert not driver.drained(first)
    driver.drain(first)
    assert _registered(elbv2, arn) == {second}
    assert driver.drained(first) and not driver.drained(second)
    driver.undrain(first)
    assert _registered(elbv2, arn) == {first, second}
    assert not driver.drained(first)


class StuckDraining:
    def __init__(self):
        self.calls: list[str] = []

    def deregister_targets(self, **_):
        self.calls.append("deregister")

    def describe_target_health(self, **_):
        return {"TargetHealthDescriptions": [{"TargetHealth": {"State": "draining"}}]}


def test_a_target_that_never_drains_is_an_error_not_a_hang():
    now = [0.0]
    driver = AlbTargetGroup(
        StuckDraining(),
        "arn",
        8000,
        drain_seconds=5,
        poll=1,
        sleep=lambda s: now.__setitem__(0, now[0] + s),
        clock=lambda: now[0],
    )
    with pytest.raises(DrainTimeout, match="still draining after 35 s"):
        driver.drain("i-1")


def _production(tmp_path: Path) -> None:
    example = REPO_ROOT / "infra" / "examples" / "production-outputs.json"
    outputs = tmp_path / "state" / "production" / "stack-outputs.json"
    outputs.parent.mkdir(parents=True)
    outputs.write_text(example.read_text())


def test_production_drives_the_target_group_from_its_stack_outputs(tmp_path, target_group):
    elbv2, _, _ = target_group
    _production(tmp_path)
    env = load_environment("production", repo=tmp_path)
    driver = balancer_for(env, client=elbv2)
    assert isinstance(driver, AlbTargetGroup)
    outputs = json.loads((tmp_path / "state" / "production" / "stack-outputs.json").read_text())
    assert driver._arn == outputs["load_balancer"]["target_group_arn"]
    assert driver._drain_seconds == outputs["drain_seconds"]


def test_local_has_nothing_to_drain_and_the_lab_drains_through_nginx(tmp_path, lab_state):
    assert isinstance(balancer_for(load_environment("local")), NoBalancer)
    (tmp_path / "state" / "lab").mkdir(parents=True)
    (tmp_path / "state" / "lab" / "ssh_config").write_text("Host lb\n  HostName 198.18.0.10\n")
    assert isinstance(balancer_for(load_environment("lab", repo=tmp_path, state=lab_state)), NginxUpstreams)


class _Upstreams:
    """What golive-upstream (roles/nginx/templates/golive-upstream.j2) answers: `status HOST` → "HOST up|drained"."""

    def __init__(self, states: dict[str, str]):
        self.host, self.states, self.commands = "lb", states, []

    def run(self, command: str, **_):
        self.commands.append(command)
        host = command.rsplit(maxsplit=1)[-1]
        return CommandResult(0, f"{host} {self.states[host]}\n")


def test_the_lab_balancer_reads_which_host_is_out_of_rotation():
    transport = _Upstreams({"web1": "up", "web2": "drained"})
    driver = NginxUpstreams(transport)
    assert not driver.drained("web1") and driver.drained("web2")
    assert transport.commands[-1] == "sudo -n /usr/local/sbin/golive-upstream status web2"
