"""The policies of the pack, importable without starting anything (tests run them directly)."""

from __future__ import annotations

from infra.policies import ec2, load_balancers, rds, s3_buckets, security_groups

PACK_NAME = "golive-aws"

POLICIES = [
    *security_groups.POLICIES,
    *rds.POLICIES,
    *ec2.POLICIES,
    *s3_buckets.POLICIES,
    *load_balancers.POLICIES,
]
