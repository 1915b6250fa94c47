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
        self.role = aws.iam.Role(f"{name}-role", assume_role_policy=_assume_ec2(), tags=args.tags, opts=child)
        aws.iam.RolePolicyAttachment(f"{name}-ssm", role=self.role.name, policy_arn=SSM_MANAGED_POLICY, opts=child)
        aws.iam.RolePolicy(
            f"{name}-backup-writes",
            role=self.role.id,
            policy=pulumi.Output.from_input(args.backup_bucket_arn).apply(_backup_writes),
            opts=child,
        )
        self.profile = aws.iam.InstanceProfile(f"{name}-profile", role=self.role.name, tags=args.tags, opts=child)
        self.key_pair = aws.ec2.KeyPair(f"{name}-key", public_key=args.ssh_public_key, tags=args.tags, opts=child)

        self.hosts = [self._host(name, i, args) for i in range(args.count)]
        self.instance_ids = [h.instance.id for h in self.hosts]
        self.register_outputs({"instance_ids": self.instance_ids, "ami": self.ami.id})

    def _host(self, name: str, index: int, args: AppServersArgs) -> Host:
        host = f"{name}-{index + 1}"
        zone = index % len(args.subnet_ids)
        instance = aws.ec2.Instance(
            host,
            ami=self.ami.id,
            instance_type=args.instance_type,
            subnet_id=args.subnet_ids[zone],
            vpc_security_group_ids=[args.security_group_id],
            iam_instance_profile=self.profile.name,
            key_name=self.key_pair.key_name,
            associate_public_ip_address=False,
            ebs_optimized=True,
            monitoring=True,
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1},
            root_block_device={
                "volume_type": "gp3",
                "volume_size": args.root_volume_gb,
                "encrypted": True,
                "delete_on_termination": True,
            },
            user_data=user_data.render(
                host, region=args.region, architecture=args.architecture, install_ssm_agent=args.install_ssm_agent
            ),
            tags={**args.tags, "Name": host, "Role": args.role},
            # A newer Debian AMI must not replace running hosts: they are patched in place; replacing one is a
            # deliberate `pulumi up --replace <urn>`.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["ami"]),
        )
        return Host(name=host, zone=args.zones[zone], instance=instance)


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
