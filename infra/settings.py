"""Every tunable of a stack, with its default: the one documented place (infra/README.md lists them too).

A field `db_backup_retention_days` is the config key `golive:dbBackupRetentionDays`
(`pulumi config set golive:dbBackupRetentionDays 14`). Fields without a default must be set in the
stack file. The database password is not here: it is a Pulumi secret, read where it is used.
The organisation's rules (backups >= 7 days, deletion protection in production, no open SSH…) are not
checked here but by the policy pack, so that a bad stack file fails `pulumi preview` with a named policy.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import typing
from dataclasses import dataclass

# Debian 12 ships PostgreSQL 15, so the hosts' pg_dump is 15: the server may not be newer than the client.
DEBIAN12_PG_CLIENT_MAJOR = 15


@dataclass(frozen=True, kw_only=True)
class Settings:
    environment: str  # the stack name (staging, production); not a config key
    region: str  # `aws:region`; not a golive key

    # --- network ---
    vpc_cidr: str = "10.0.0.0/16"  # the VPC; public /24s from .0.0, private /24s from .10.0
    zone_count: int = 2  # availability zones used (looked up in the region, at least 2)
    nat_per_zone: bool = False  # one NAT gateway per zone (production) or one shared (cheaper)
    flow_log_retention_days: int = 90  # CloudWatch retention of the VPC flow logs

    # --- app servers ---
    instance_type: str = "t3.small"  # EC2 type of each app server
    instance_count: int = 2  # app servers, spread round-robin over the zones
    architecture: str = "x86_64"  # x86_64 or arm64 (must match instance_type and the release wheelhouse)
    root_volume_gb: int = 20  # encrypted gp3 root volume per host
    access: str = "ssm"  # how operators and the release reach hosts: "ssm" (no port 22) or "ssh"
    admin_cidr: str | None = None  # source of SSH (port 22) when access is "ssh"; ignored with "ssm"
    ssh_user: str = "admin"  # the Debian AMI's login user (Ansible's, with sudo)
    ssh_public_key: str  # the controller's public key, installed for ssh_user (ssh-ed25519 …)
    deploy_user: str = "golive-deploy"  # the release's account (roles/common: golive_deploy_user)
    host_pg_client_major: int = DEBIAN12_PG_CLIENT_MAJOR  # pg_dump major on the hosts (postgresql-client-N)

    # --- monitoring host ---
    monitoring_instance_type: str = "t3.small"  # EC2 type of the monitoring host (same architecture)
    monitoring_volume_gb: int = 30  # its encrypted gp3 root volume: Prometheus' data and the journals

    # --- service and load balancer ---
    service_port: int = 8000  # uvicorn's port on every host
    health_check_path: str = "/api/health"  # target group health check
    drain_seconds: int = 30  # target deregistration delay = the release's drain wait
    domain: str  # the service's name, e.g. pay.example.com (inside hosted_zone)
    hosted_zone: str  # public Route 53 zone that holds domain (looked up by name)
    tls_policy: str = "ELBSecurityPolicy-TLS13-1-2-2021-06"  # HTTPS listener policy: TLS 1.2 + 1.3
    lb_deletion_protection: bool = False  # refuse to delete the ALB

    # --- database ---
    db_instance_class: str = "db.t4g.small"  # RDS class
    db_engine_version: str = "15"  # PostgreSQL major (or major.minor); <= host_pg_client_major
    db_storage_gb: int = 20  # initial gp3 storage
    db_max_storage_gb: int = 100  # storage autoscaling ceiling
    db_multi_az: bool = False  # standby in a second zone
    db_deletion_protection: bool = False  # refuse to delete the instance; also takes a final snapshot
    db_backup_retention_days: int = 7  # automated backups kept (policy: >= 7)
    db_slow_statement_ms: int = 500  # log_min_duration_statement
    db_name: str = "golive"  # database created on the instance
    db_username: str = "golive"  # master user (its password: the secret golive:dbPassword)

    # --- alarms ---
    alarm_email: str  # subscribed to the alarm topic (confirm the e-mail AWS sends)
    alarm_error_rate_percent: float = 1.0  # target 5xx responses as % of requests over 5 minutes
    alarm_p95_seconds: float = 1.0  # p95 target response time
    alarm_db_cpu_percent: int = 80  # RDS CPU
    alarm_db_free_storage_gb: int = 5  # RDS free storage

    # --- backups ---
    backup_expiry_days: int = 35  # backups (current versions) expire after this many days
    backup_noncurrent_days: int = 7  # overwritten/deleted versions kept this long

    @property
    def tags(self) -> dict[str, str]:
        return {"Project": "golive", "Environment": self.environment, "ManagedBy": "pulumi"}

    @property
    def db_major(self) -> int:
        return int(self.db_engine_version.split(".")[0])


# Not read from golive:* keys.
DERIVED = ("environment", "region")


def config_key(field_name: str) -> str:
    """`db_backup_retention_days` -> `dbBackupRetentionDays`."""
    head, *rest = field_name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def config_keys() -> dict[str, str]:
    """Every golive config key -> its field name."""
    return {config_key(f.name): f.name for f in dataclasses.fields(Settings) if f.name not in DERIVED}


def load(config, environment: str, region: str) -> Settings:
    """Reads a Settings from a `pulumi.Config` (or anything with get/get_int/get_bool/get_float/require)."""
    hints = typing.get_type_hints(Settings)
    readers = {int: config.get_int, bool: config.get_bool, float: config.get_float}
    values: dict[str, object] = {"environment": environment, "region": region}
    for field in dataclasses.fields(Settings):
        if field.name in DERIVED:
            continue
        key = config_key(field.name)
        if field.default is dataclasses.MISSING:
            values[field.name] = config.require(key)
            continue
        value = readers.get(hints[field.name], config.get)(key)
        if value is not None:
            values[field.name] = value
    settings = Settings(**values)
    problems = validate(settings)
    if problems:
        raise ValueError("invalid stack configuration:\n  " + "\n  ".join(problems))
    return settings


def validate(s: Settings) -> list[str]:
    """What is wrong with the configuration, each naming its key; empty when it is usable."""
    problems = []
    problems += _network_problems(s)
    problems += _host_problems(s)
    problems += _service_problems(s)
    problems += _database_problems(s)
    if "@" not in s.alarm_email:
        problems.append(f"golive:alarmEmail: {s.alarm_email!r} is not an e-mail address")
    if s.backup_expiry_days < 1 or s.backup_noncurrent_days < 1:
        problems.append("golive:backupExpiryDays and golive:backupNoncurrentDays must be at least 1")
    return problems


def _network_problems(s: Settings) -> list[str]:
    problems = []
    try:
        vpc = ipaddress.IPv4Network(s.vpc_cidr)
        if not 16 <= vpc.prefixlen <= 20:
            problems.append(f"golive:vpcCidr: {s.vpc_cidr} must be a /16 to /20 (room for a /24 per subnet)")
    except ValueError:
        problems.append(f"golive:vpcCidr: {s.vpc_cidr!r} is not an IPv4 network")
    if s.zone_count < 2:
        problems.append(f"golive:zoneCount: {s.zone_count} — at least 2 availability zones")
    return problems


def _host_problems(s: Settings) -> list[str]:
    problems = []
    if s.instance_count < 1:
        problems.append(f"golive:instanceCount: {s.instance_count} — at least 1 app server")
    if s.architecture not in ("x86_64", "arm64"):
        problems.append(f"golive:architecture: {s.architecture!r} — x86_64 or arm64")
    if s.access not in ("ssm", "ssh"):
        problems.append(f"golive:access: {s.access!r} — ssm or ssh")
    if s.access == "ssh" and not s.admin_cidr:
        problems.append("golive:adminCidr: required when golive:access is ssh")
    if s.admin_cidr:
        try:
            ipaddress.ip_network(s.admin_cidr)
        except ValueError:
            problems.append(f"golive:adminCidr: {s.admin_cidr!r} is not a network (a.b.c.d/n)")
    if not re.match(r"^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp\d+) \S+", s.ssh_public_key):
        problems.append("golive:sshPublicKey: not an OpenSSH public key (ssh-ed25519 AAAA…)")
    if s.root_volume_gb < 8:
        problems.append(f"golive:rootVolumeGb: {s.root_volume_gb} — at least 8")
    if s.monitoring_volume_gb < 8:
        problems.append(f"golive:monitoringVolumeGb: {s.monitoring_volume_gb} — at least 8")
    return problems


def _service_problems(s: Settings) -> list[str]:
    problems = []
    if not 1 <= s.service_port <= 65535:
        problems.append(f"golive:servicePort: {s.service_port} is not a port")
    if not 0 <= s.drain_seconds <= 3600:
        problems.append(f"golive:drainSeconds: {s.drain_seconds} — 0 to 3600 (the ALB's deregistration delay)")
    zone = s.hosted_zone.rstrip(".")
    if s.domain != zone and not s.domain.endswith("." + zone):
        problems.append(f"golive:domain: {s.domain} is not inside golive:hostedZone {s.hosted_zone}")
    if not s.health_check_path.startswith("/"):
        problems.append(f"golive:healthCheckPath: {s.health_check_path!r} must start with /")
    return problems


def _database_problems(s: Settings) -> list[str]:
    problems = []
    if not re.match(r"^\d+(\.\d+)?$", s.db_engine_version):
        problems.append(f"golive:dbEngineVersion: {s.db_engine_version!r} — a PostgreSQL version such as 15")
    elif s.db_major > s.host_pg_client_major:
        problems.append(
            f"golive:dbEngineVersion: PostgreSQL {s.db_major} is newer than the hosts' pg_dump "
            f"{s.host_pg_client_major}; install postgresql-client-{s.db_major} on the hosts and set "
            f"golive:hostPgClientMajor, or choose {s.host_pg_client_major}"
        )
    if s.db_storage_gb < 20:
        problems.append(f"golive:dbStorageGb: {s.db_storage_gb} — RDS gp3 needs at least 20")
    if s.db_max_storage_gb < s.db_storage_gb:
        problems.append("golive:dbMaxStorageGb: must be at least golive:dbStorageGb")
    return problems
