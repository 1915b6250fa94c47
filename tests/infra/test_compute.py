"""infra/compute.py and infra/user_data.py under mocks: Debian 12 hosts spread over the zones, IMDSv2,
encrypted volumes, an instance profile that allows SSM and backup writes only."""

from __future__ import annotations

import json

from infra import user_data
from infra.compute import DEBIAN_OWNER, SSM_MANAGED_POLICY, AppServers, AppServersArgs
from infra.offline.fake_aws import FakeAws
from tests.infra.helpers import PUBLIC_KEY, TAGS

INSTANCE = "aws:ec2/instance:Instance"
BUCKET_ARN = "arn:aws:s3:::golive-staging-backups"


def servers(count: int = 3, architecture: str = "x86_64", ssm: bool = True) -> AppServers:
    return AppServers(
        "web",
        AppServersArgs(
            role="web",
            count=count,
            instance_type="t3.small",
            architecture=architecture,
            root_volume_gb=25,
            subnet_ids=["subnet-a", "subnet-b"],
            zones=["eu-west-1a", "eu-west-1b"],
            security_group_id="sg-app",
            backup_bucket_arn=BUCKET_ARN,
            ssh_public_key=PUBLIC_KEY,
            install_ssm_agent=ssm,
            region="eu-west-1",
            tags=TAGS,
        ),
    )


def run_servers(run, **kwargs):
    """The fake allocates host addresses from the subnet's CIDR: tell it about the bare subnet ids used here."""
    fake = FakeAws(subnet_cidrs={"subnet-a": "10.20.10.0/24", "subnet-b": "10.20.11.0/24"})
    return run(lambda: servers(**kwargs), fake=fake)


def test_hosts_are_named_after_the_component_and_spread_round_robin_over_the_zones(run):
    graph = run_servers(run, count=3)
    placed = [(i.name, i.inputs["subnetId"], i.inputs["tags"]["Role"]) for i in graph.of_type(INSTANCE)]
    assert placed == [("web-1", "subnet-a", "web"), ("web-2", "subnet-b", "web"), ("web-3", "subnet-a", "web")]


def test_the_ami_is_the_newest_official_debian_12_for_the_architecture(run):
    graph = run_servers(run, count=1, architecture="arm64")
    ((_token, args),) = [call for call in graph.lookups if call[0] == "aws:ec2/getAmi:getAmi"]
    filters = {f["name"]: f["values"] for f in args["filters"]}
    assert args["owners"] == [DEBIAN_OWNER] and args["mostRecent"] is True
    assert filters["name"] == ["debian-12-arm64-*"] and filters["architecture"] == ["arm64"]
    (instance,) = graph.of_type(INSTANCE)
    assert instance.inputs["ami"].startswith("ami-") and instance.ignore_changes == ["ami"]


def test_imdsv2_only_encrypted_root_volume_no_public_address(run):
    for instance in run_servers(run, count=2).of_type(INSTANCE):
        i = instance.inputs
        assert i["metadataOptions"]["httpTokens"] == "required"
        assert i["metadataOptions"]["httpPutResponseHopLimit"] == 1
        assert i["rootBlockDevice"] == {
            "volumeType": "gp3",
            "volumeSize": 25,
            "encrypted": True,
            "deleteOnTermination": True,
        }
        assert i["associatePublicIpAddress"] is False and i["vpcSecurityGroupIds"] == ["sg-app"]


def test_the_instance_profile_allows_ssm_and_backup_writes_and_nothing_else(run):
    graph = run_servers(run, count=1)
    (attachment,) = graph.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert attachment.inputs["policyArn"] == SSM_MANAGED_POLICY
    (inline,) = graph.of_type("aws:iam/rolePolicy:RolePolicy")
    (statement,) = json.loads(inline.inputs["policy"])["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == ["s3:PutObject", "s3:AbortMultipartUpload"]
    assert statement["Resource"] == f"{BUCKET_ARN}/*"
    role = graph.one("aws:iam/role:Role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "ec2.amazonaws.com"}
    profile = graph.one("aws:iam/instanceProfile:InstanceProfile")
    assert profile.inputs["role"] == role.outputs["name"]
    assert graph.one(INSTANCE).inputs["iamInstanceProfile"] == profile.outputs["name"]


def test_the_release_key_is_installed(run):
    graph = run_servers(run, count=1)
    key = graph.one("aws:ec2/keyPair:KeyPair")
    assert key.inputs["publicKey"] == PUBLIC_KEY
    assert graph.one(INSTANCE).inputs["keyName"] == key.outputs["keyName"]


def test_first_boot_installs_the_ssm_agent_only_when_hosts_are_reached_through_ssm():
    with_ssm = user_data.render("web-1", region="eu-west-1", architecture="arm64", install_ssm_agent=True)
    assert "hostnamectl set-hostname web-1" in with_ssm
    assert "amazon-ssm-eu-west-1/latest/debian_arm64/amazon-ssm-agent.deb" in with_ssm
    assert "systemctl enable --now amazon-ssm-agent" in with_ssm
    without = user_data.render("web-1", region="eu-west-1", architecture="x86_64", install_ssm_agent=False)
    assert "ssm" not in without and without.startswith("#!/bin/sh\n")


def test_each_host_gets_its_own_user_data(run):
    graph = run_servers(run, count=2, ssm=False)
    assert [i.inputs["userData"].splitlines()[3] for i in graph.of_type(INSTANCE)] == [
        "hostnamectl set-hostname web-1",
        "hostnamectl set-hostname web-2",
    ]
