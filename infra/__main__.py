"""The Pulumi program (Pulumi.yaml: `main: infra/`): reads the stack's config, wires the components
together and exports what the release reads. Each component lives in its own module."""

import sys
from pathlib import Path

# The CLI runs this file by path: make `infra.*` importable from the repository root.
if (root := str(Path(__file__).resolve().parent.parent)) not in sys.path:
    sys.path.insert(0, root)

import pulumi

from infra import outputs, service_dns, settings
from infra.alarms import Alarms, AlarmsArgs
from infra.backups import BackupBucket, BackupBucketArgs
from infra.certificate import Certificate, CertificateArgs
from infra.compute import AppServers, AppServersArgs
from infra.database import Database, DatabaseArgs
from infra.load_balancer import LoadBalancer, LoadBalancerArgs
from infra.monitoring import Monitoring, MonitoringArgs
from infra.network import Network, NetworkArgs
from infra.security import SecurityGroups, SecurityGroupsArgs

config = pulumi.Config()
s = settings.load(config, pulumi.get_stack(), pulumi.Config("aws").require("region"))

network = Network("network", NetworkArgs(s.vpc_cidr, s.zone_count, s.nat_per_zone, s.flow_log_retention_days, s.tags))
groups = SecurityGroups(
    "sg",
    SecurityGroupsArgs(
        vpc_id=network.vpc_id,
        vpc_cidr=s.vpc_cidr,
        service_port=s.service_port,
        admin_cidr=s.admin_cidr if s.access == "ssh" else None,
        tags=s.tags,
    ),
)
# S3 bucket names are global: the component's name carries the project and the stack.
backups = BackupBucket(
    f"golive-{s.environment}-backups", BackupBucketArgs(s.backup_expiry_days, s.backup_noncurrent_days, s.tags)
)
servers = AppServers(
    "web",
    AppServersArgs(
        role="web",
        count=s.instance_count,
        instance_type=s.instance_type,
        architecture=s.architecture,
        root_volume_gb=s.root_volume_gb,
        subnet_ids=network.private_subnet_ids,
        zones=network.zones,
        security_group_id=groups.app.id,
        backup_bucket_arn=backups.arn,
        ssh_public_key=s.ssh_public_key,
        install_ssm_agent=s.access == "ssm",
        region=s.region,
        tags=s.tags,
    ),
)
monitoring = Monitoring(
    "monitoring",
    MonitoringArgs(
        instance_type=s.monitoring_instance_type,
        architecture=s.architecture,
        volume_gb=s.monitoring_volume_gb,
        subnet_id=network.private_subnet_ids[0],
        zone=network.zones[0],
        security_group_id=groups.monitoring.id,
        ssh_public_key=s.ssh_public_key,
        install_ssm_agent=s.access == "ssm",
        region=s.region,
        tags=s.tags,
    ),
)
database = Database(
    "db",
    DatabaseArgs(
        subnet_ids=network.private_subnet_ids,
        security_group_id=groups.database.id,
        instance_class=s.db_instance_class,
        engine_version=s.db_engine_version,
        storage_gb=s.db_storage_gb,
        max_storage_gb=s.db_max_storage_gb,
        multi_az=s.db_multi_az,
        deletion_protection=s.db_deletion_protection,
        final_snapshot=f"golive-{s.environment}-final",
        backup_retention_days=s.db_backup_retention_days,
        slow_statement_ms=s.db_slow_statement_ms,
        db_name=s.db_name,
        username=s.db_username,
        password=config.require_secret("dbPassword"),
        tags=s.tags,
    ),
)
zone = service_dns.lookup_zone(s.hosted_zone)
certificate = Certificate("tls", CertificateArgs(s.domain, zone.zone_id, s.tags))
lb = LoadBalancer(
    "lb",
    LoadBalancerArgs(
        vpc_id=network.vpc_id,
        subnet_ids=network.public_subnet_ids,
        security_group_id=groups.load_balancer.id,
        certificate_arn=certificate.arn,
        tls_policy=s.tls_policy,
        service_port=s.service_port,
        health_check_path=s.health_check_path,
        drain_seconds=s.drain_seconds,
        instance_ids=servers.instance_ids,
        deletion_protection=s.lb_deletion_protection,
        tags=s.tags,
    ),
)
service_dns.ServiceDns("dns", service_dns.ServiceDnsArgs(s.domain, zone.zone_id, lb.dns_name, lb.zone_id))
alarms = Alarms(
    "alarms",
    AlarmsArgs(
        email=s.alarm_email,
        lb_arn_suffix=lb.alb.arn_suffix,
        target_group_arn_suffix=lb.target_group.arn_suffix,
        db_identifier=database.identifier,
        error_rate_percent=s.alarm_error_rate_percent,
        p95_seconds=s.alarm_p95_seconds,
        db_cpu_percent=s.alarm_db_cpu_percent,
        db_free_storage_gb=s.alarm_db_free_storage_gb,
        tags=s.tags,
    ),
)

for name, value in outputs.release_outputs(
    settings=s,
    servers=servers,
    role="web",
    database=database,
    lb=lb,
    backups=backups,
    alarms=alarms,
    monitoring=monitoring,
).items():
    pulumi.export(name, value)
