"""S3: every bucket has all four public-access blocks and default encryption; no public ACL.

In pulumi-aws 7 a bucket's settings are separate resources that name the bucket; they are matched to
it through their `bucket` property's dependency (known at preview, unlike the bucket's name)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_ACL = "aws:s3/bucketAcl:BucketAcl"
BLOCKS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
ALGORITHMS = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})


def _settings_of(bucket: PolicyResource, resources: list[PolicyResource], typ: str) -> list[PolicyResource]:
    def names_it(setting: PolicyResource) -> bool:
        dependencies = setting.property_dependencies.get("bucket")
        if dependencies:  # the usual case: `bucket=the_bucket.id`
            return any(dep.urn == bucket.urn for dep in dependencies)
        # A literal bucket name (then both names are known, even at preview).
        return setting.props.get("bucket") is not None and setting.props.get("bucket") == bucket.props.get("bucket")

    return [r for r in resources if r.resource_type == typ and names_it(r)]


def _fully_blocked(block: PolicyResource) -> bool:
    return all(block.props.get(flag) is True for flag in BLOCKS)


def _encrypted(config: PolicyResource) -> bool:
    rules = config.props.get("rules") or []
    return any(
        (rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm") in ALGORITHMS for rule in rules
    )


def _each_bucket(
    args: StackValidationArgs, typ: str, ok: Callable[[PolicyResource], bool], report: ReportViolation, what: str
):
    for bucket in (r for r in args.resources if r.resource_type == BUCKET):
        if not any(ok(s) for s in _settings_of(bucket, args.resources, typ)):
            report(f"bucket {bucket.name} has no {what}", bucket.urn)


def validate_private(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    _each_bucket(args, PUBLIC_ACCESS_BLOCK, _fully_blocked, report_violation, "public access block with all four flags")


def validate_encrypted(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    _each_bucket(args, ENCRYPTION, _encrypted, report_violation, "default server-side encryption")


def _public_acl(props: Any) -> bool:
    return str(props.get("acl") or "").startswith(("public-", "authenticated-"))


def validate_no_public_acl(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type in (BUCKET, BUCKET_ACL) and _public_acl(args.props):
        report_violation(f"canned ACL {args.props.get('acl')} makes objects public", None)


POLICIES = [
    StackValidationPolicy(
        name="s3-bucket-private",
        description="Every bucket blocks all public access.",
        validate=validate_private,
    ),
    StackValidationPolicy(
        name="s3-bucket-encrypted",
        description="Every bucket has default server-side encryption.",
        validate=validate_encrypted,
    ),
    ResourceValidationPolicy(
        name="s3-no-public-acl", description="No bucket has a public canned ACL.", validate=validate_no_public_acl
    ),
]
