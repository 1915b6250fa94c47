"""RDS: encrypted, never public, backups kept at least a week; in production also deletion protection
and a standby in a second zone."""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from infra.policies.common import is_production, number

DB_TYPES = frozenset({"aws:rds/instance:Instance", "aws:rds/cluster:Cluster"})
MIN_BACKUP_RETENTION_DAYS = 7


def validate_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type in DB_TYPES and args.props.get("storageEncrypted") is not True:
        report_violation("database storage must be encrypted (storage_encrypted=True)", None)


def validate_not_public(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type in DB_TYPES and args.props.get("publiclyAccessible"):
        report_violation("database must not be publicly accessible", None)


def validate_backup_retention(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type in DB_TYPES:
        days = number(args.props, "backupRetentionPeriod")
        if days < MIN_BACKUP_RETENTION_DAYS:
            report_violation(
                f"automated backups kept {days:g} days; at least {MIN_BACKUP_RETENTION_DAYS} required", None
            )


def validate_production_protection(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != "aws:rds/instance:Instance" or not is_production(args.urn):
        return
    if args.props.get("deletionProtection") is not True:
        report_violation("production database must have deletion protection", None)
    if args.props.get("multiAz") is not True:
        report_violation("production database must be multi-AZ", None)


POLICIES = [
    ResourceValidationPolicy(
        name="rds-storage-encrypted", description="RDS storage is encrypted.", validate=validate_encrypted
    ),
    ResourceValidationPolicy(
        name="rds-not-public", description="RDS is not publicly accessible.", validate=validate_not_public
    ),
    ResourceValidationPolicy(
        name="rds-backup-retention",
        description=f"RDS keeps automated backups at least {MIN_BACKUP_RETENTION_DAYS} days.",
        validate=validate_backup_retention,
    ),
    ResourceValidationPolicy(
        name="rds-production-protection",
        description="In production, RDS has deletion protection and a multi-AZ standby.",
        validate=validate_production_protection,
    ),
]
