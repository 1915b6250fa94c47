"""The monitoring host: one Debian 12 instance in a private subnet, behind its own security group (security.py),
reached as the app servers are (SSM or SSH); Ansible's monitoring role makes it Prometheus, Alertmanager, the
blackbox exporter and journal-remote (playbooks/monitoring.yml). Its address is in the stack outputs."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from infra.compute import Host, debian12_ami, hardened_instance, identity


@dataclass
class MonitoringArgs:
    instance_type: str
    architecture: str
    volume_gb: int  # Prometheus' TSDB and the aggregated journals live on the root volume
    subnet_id: pulumi.Input[str]  # a private subnet
    zone: str  # the subnet's zone
    security_group_id: pulumi.Input[str]
    ssh_public_key: str
    install_ssm_agent: bool
    region: str
    tags: dict[str, str]


class Monitoring(pulumi.ComponentResource):
    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("golive:infra:Monitoring", name, None, opts)
        self.ami = debian12_ami(args.architecture, parent=self)
        self.role, self.profile, self.key_pair = identity(name, args.ssh_public_key, args.tags, parent=self)
        instance = hardened_instance(
            name,
            ami_id=self.ami.id,
            instance_type=args.instance_type,
            subnet_id=args.subnet_id,
            security_group_id=args.security_group_id,
            profile=self.profile,
            key_pair=self.key_pair,
            root_volume_gb=args.volume_gb,
            architecture=args.architecture,
            region=args.region,
            install_ssm_agent=args.install_ssm_agent,
            tags={**args.tags, "Name": name, "Role": "monitoring"},
            parent=self,
        )
        self.host = Host(name=name, zone=args.zone, instance=instance)
        self.register_outputs({"instance_id": instance.id, "private_ip": instance.private_ip})
