"""The stack outputs: exactly what the release reads, in the shape `pulumi stack output --json` prints
(documented in infra/README.md, "Stack outputs"; examples in infra/examples/)."""

from __future__ import annotations

from typing import Any

import pulumi

from foundation.stack_outputs.schema import SCHEMA_VERSION
from infra.alarms import Alarms
from infra.backups import BackupBucket
from infra.compute import AppServers, Host
from infra.database import Database
from infra.load_balancer import LoadBalancer
from infra.monitoring import Monitoring
from infra.security import PROMETHEUS_PORT
from infra.settings import Settings

__all__ = ["SCHEMA_VERSION", "release_outputs"]  # the shape's version is the controller's (it refuses others)

SSM_PROXY_COMMAND = (
    "aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p --region {region}"
)


def access(settings: Settings) -> dict[str, Any]:
    """How to reach the hosts: SSH through an SSM session (the host's instance id is the SSH host name),
    or plain SSH to the private address from the admin network. Ansible logs in as `user` (root through sudo), the
    release as `deploy_user` (exactly its helpers through sudo)."""
    proxy = SSM_PROXY_COMMAND.format(region=settings.region) if settings.access == "ssm" else None
    return {
        "method": settings.access,
        "user": settings.ssh_user,
        "deploy_user": settings.deploy_user,
        "ssh_proxy_command": proxy,
    }


def host(entry: Host) -> dict[str, Any]:
    return {
        "name": entry.name,
        "instance_id": entry.instance.id,
        "private_ip": entry.instance.private_ip,
        "availability_zone": entry.zone,
    }


def release_outputs(
    *,
    settings: Settings,
    servers: AppServers,
    role: str,
    database: Database,
    lb: LoadBalancer,
    backups: BackupBucket,
    alarms: Alarms,
    monitoring: Monitoring,
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "environment": settings.environment,
        "region": settings.region,
        "hosts": {role: [host(h) for h in servers.hosts]},
        "access": access(settings),
        "service_port": settings.service_port,
        "health_check_path": settings.health_check_path,
        "drain_seconds": settings.drain_seconds,
        "domain": settings.domain,
        "url": f"https://{settings.domain}",
        "database": {
            "host": database.address,
            "port": database.port,
            "name": settings.db_name,
            "user": settings.db_username,
            "engine_major": settings.db_major,
            "sslmode": "require",
        },
        "load_balancer": {
            "dns_name": lb.dns_name,
            "arn": lb.alb.arn,
            "target_group_arn": lb.target_group.arn,
        },
        "backup_bucket": backups.bucket_name,
        "alarm_topic_arn": alarms.topic_arn,
        "monitoring": {
            **host(monitoring.host),
            "prometheus_url": pulumi.Output.concat(
                "http://", monitoring.host.instance.private_ip, f":{PROMETHEUS_PORT}"
            ),
        },
    }
