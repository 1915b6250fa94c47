"""Database: RDS PostgreSQL in the private subnets — encrypted, never public, TLS forced, slow statements
logged, its major version no newer than the hosts' pg_dump (the release dumps before every migration)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

PORT = 5432


@dataclass
class DatabaseArgs:
    subnet_ids: list[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    instance_class: str
    engine_version: str  # "15" (AWS picks the newest minor) or "15.x"
    storage_gb: int
    max_storage_gb: int
    multi_az: bool
    deletion_protection: bool  # also: a final snapshot on delete, named final_snapshot
    final_snapshot: str  # unique in the account, e.g. golive-production-final
    backup_retention_days: int
    slow_statement_ms: int
    db_name: str
    username: str
    password: pulumi.Input[str]  # a Pulumi secret
    tags: dict[str, str]


def parameters(slow_statement_ms: int) -> list[dict]:
    """The parameter group's settings: slow statements, lock waits, TLS only."""
    return [
        {"name": "log_min_duration_statement", "value": str(slow_statement_ms)},
        {"name": "log_lock_waits", "value": "1"},
        {"name": "rds.force_ssl", "value": "1"},
    ]


class Database(pulumi.ComponentResource):
    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("golive:infra:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        major = args.engine_version.split(".")[0]
        self.subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets", subnet_ids=args.subnet_ids, tags=args.tags, opts=child
        )
        self.parameter_group = aws.rds.ParameterGroup(
            f"{name}-params",
            family=f"postgres{major}",
            description=f"golive PostgreSQL {major}: slow statements logged, TLS only",
            parameters=parameters(args.slow_statement_ms),
            tags=args.tags,
            opts=child,
        )
        self.instance = aws.rds.Instance(
            f"{name}-postgres",
            engine="postgres",
            engine_version=args.engine_version,
            instance_class=args.instance_class,
            allocated_storage=args.storage_gb,
            max_allocated_storage=args.max_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            db_name=args.db_name,
            username=args.username,
            password=args.password,
            port=PORT,
            db_subnet_group_name=self.subnet_group.name,
            vpc_security_group_ids=[args.security_group_id],
            parameter_group_name=self.parameter_group.name,
            publicly_accessible=False,
            multi_az=args.multi_az,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=not args.deletion_protection,
            final_snapshot_identifier=args.final_snapshot if args.deletion_protection else None,
            backup_retention_period=args.backup_retention_days,
            backup_window="02:00-03:00",
            maintenance_window="sun:03:30-sun:04:30",
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=False,
            enabled_cloudwatch_logs_exports=["postgresql"],
            apply_immediately=False,
            tags=args.tags,
            opts=child,
        )
        self.address = self.instance.address
        self.port = self.instance.port
        self.identifier = self.instance.identifier
        self.register_outputs({"address": self.address, "port": self.port, "identifier": self.identifier})
