"""App servers: Debian 12 (the official AMI, looked up), IMDSv2 only, encrypted volumes, spread over the
zones, with an instance profile that allows SSM and writing backups — nothing else."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import user_data

DEBIAN_OWNER = "136693071363"  # the Debian project's AWS account (https://wiki.debian.org/Cloud/AmazonEC2Image)
SSM_MANAGED_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


def debian12_ami(architecture: str, parent: pulumi.Resource | None = None) -> aws.ec2.AwaitableGetAmiResult:
    return aws.ec2.get_ami(
        most_recent=True,
        owners=[DEBIAN_OWNER],
        filters=[
            {"name": "name", "values": [f"debian-12-{user_data.DEBIAN_ARCH[architecture]}-*"]},
            {"name": "architecture", "values": [architecture]},
            {"name": "virtualization-type", "values": ["hvm"]},
            {"name": "root-device-type", "values": ["ebs"]},
        ],
        opts=pulumi.InvokeOptions(parent=parent),
    )


@dataclass
class AppServersArgs:
    role: str  # the hosts' role in the release's inventory ("web")
    count: int
    instance_type: str
    architecture: str
    root_volume_gb: int
    subnet_ids: list[pulumi.Input[str]]  # private subnets, one per zone
    zones: list[str]  # the subnets' zones, same order
    security_group_id: pulumi.Input[str]
    backup_bucket_arn: pulumi.Input[str]
    ssh_public_key: str
    install_ssm_agent: bool
    region: str
    tags: dict[str, str]


@dataclass
class Host:
    name: str
    zone: str
    instance: aws.ec2.Instance


class AppServers(pulumi.ComponentResource):
    def __init__(self, name: str, args: AppServersArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("golive:infra:AppServers", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.ami = debian12_ami(args.architecture, parent=self)
        self.role, self.profile, self.key_pair = identity(name, args.ssh_public_key, args.tags, parent=self)
        aws.iam.RolePolicy(
            f"{name}-backup-writes",
            role=self.role.id,
            policy=pulumi.Output.from_input(args.backup_bucket_arn).apply(_backup_writes),
            opts=child,
        )

        self.hosts = [self._host(name, i, args) for i in range(args.count)]
        self.instance_ids = [h.instance.id for h in self.hosts]
        self.register_outputs({"instance_ids": self.instance_ids, "ami": self.ami.id})

    def _host(self, name: str, index: int, args: AppServersArgs) -> Host:
        host = f"{name}-{index + 1}"
        zone = index % len(args.subnet_ids)
        instance = hardened_instance(
            host,
            ami_id=self.ami.id,
            instance_type=args.instance_type,
            subnet_id=args.subnet_ids[zone],
            security_group_id=args.security_group_id,
            profile=self.profile,
            key_pair=self.key_pair,
            root_volume_gb=args.root_volume_gb,
            architecture=args.architecture,
            region=args.region,
            install_ssm_agent=args.install_ssm_agent,
            tags={**args.tags, "Name": host, "Role": args.role},
            parent=self,
        )
        return Host(name=host, zone=args.zones[zone], instance=instance)


def identity(
    name: str, ssh_public_key: str, tags: dict[str, str], parent: pulumi.Resource
) -> tuple[aws.iam.Role, aws.iam.InstanceProfile, aws.ec2.KeyPair]:
    """What a host of the stack is: a role SSM may manage (reached through SSM sessions), its instance profile, and
    the release's key pair."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(f"{name}-role", assume_role_policy=_assume_ec2(), tags=tags, opts=child)
    aws.iam.RolePolicyAttachment(f"{name}-ssm", role=role.name, policy_arn=SSM_MANAGED_POLICY, opts=child)
    profile = aws.iam.InstanceProfile(f"{name}-profile", role=role.name, tags=tags, opts=child)
    key_pair = aws.ec2.KeyPair(f"{name}-key", public_key=ssh_public_key, tags=tags, opts=child)
    return role, profile, key_pair


def hardened_instance(
    name: str,
    *,
    ami_id: pulumi.Input[str],
    instance_type: str,
    subnet_id: pulumi.Input[str],
    security_group_id: pulumi.Input[str],
    profile: aws.iam.InstanceProfile,
    key_pair: aws.ec2.KeyPair,
    root_volume_gb: int,
    architecture: str,
    region: str,
    install_ssm_agent: bool,
    tags: dict[str, str],
    parent: pulumi.Resource,
) -> aws.ec2.Instance:
    """A host as every host of the stack is: private, IMDSv2 only, an encrypted gp3 root volume, detailed monitoring,
    its first boot (user_data.py), tagged with the architecture its AMI was chosen for (the policy pack reads the
    tag: infra/policies/ec2.py)."""
    return aws.ec2.Instance(
        name,
        ami=ami_id,
        instance_type=instance_type,
        subnet_id=subnet_id,
        vpc_security_group_ids=[security_group_id],
        iam_instance_profile=profile.name,
        key_name=key_pair.key_name,
        associate_public_ip_address=False,
        ebs_optimized=True,
        monitoring=True,
        metadata_options={"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1},
        root_block_device={
            "volume_type": "gp3",
            "volume_size": root_volume_gb,
            "encrypted": True,
            "delete_on_termination": True,
        },
        user_data=user_data.render(name, region=region, architecture=architecture, install_ssm_agent=install_ssm_agent),
        tags={**tags, "Architecture": architecture},
        # A newer Debian AMI must not replace running hosts: they are patched in place; replacing one is a
        # deliberate `pulumi up --replace <urn>`.
        opts=pulumi.ResourceOptions(parent=parent, ignore_changes=["ami"]),
    )


def _assume_ec2() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    )


def _backup_writes(bucket_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "WriteBackups",
                    "Effect": "Allow",
                    "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
                    "Resource": f"{bucket_arn}/*",
                }
            ],
        }
    )
