"""EC2: every volume encrypted; the instance metadata service only with session tokens (IMDSv2); x86_64 hosts
only, since the release's wheelhouse is built for manylinux x86_64 alone (release/build/artifact.py PLATFORMS)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

INSTANCE = "aws:ec2/instance:Instance"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
VOLUME = "aws:ebs/volume:Volume"
# Graviton (arm64) families: a1, and a "g" right after the generation (t4g, m7g, c6gn, r6gd, x2gd, im4gn, is4gen…).
ARM64_INSTANCE_TYPE = re.compile(r"^(a1|[a-z]+\d+g[a-z]*)\.")
ARCHITECTURE_TAG = "Architecture"  # set on every host by infra/compute.py (hardened_instance)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def unencrypted_volumes(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Names of the volumes a resource would create unencrypted."""
    if resource_type == INSTANCE:
        found = [] if _truthy((props.get("rootBlockDevice") or {}).get("encrypted")) else ["root volume"]
        return found + [
            d.get("deviceName", "EBS volume")
            for d in props.get("ebsBlockDevices") or []
            if not _truthy(d.get("encrypted"))
        ]
    if resource_type == VOLUME:
        return [] if _truthy(props.get("encrypted")) else ["volume"]
    if resource_type == LAUNCH_TEMPLATE:
        return [
            m.get("deviceName", "volume")
            for m in props.get("blockDeviceMappings") or []
            if m.get("ebs") is not None and not _truthy(m["ebs"].get("encrypted"))
        ]
    return []


def validate_volumes_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for volume in unencrypted_volumes(args.resource_type, args.props):
        report_violation(f"{volume} is not encrypted (encrypted=True)", None)


def validate_imdsv2(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in (INSTANCE, LAUNCH_TEMPLATE):
        return
    tokens = (args.props.get("metadataOptions") or {}).get("httpTokens")
    if tokens != "required":
        report_violation(f"instance metadata must require IMDSv2 tokens (http_tokens='required'), not {tokens!r}", None)


def arm64_reasons(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Why a host would run arm64: its instance type, or the architecture the program chose its AMI for."""
    if resource_type not in (INSTANCE, LAUNCH_TEMPLATE):
        return []
    reasons = []
    instance_type = props.get("instanceType") or ""
    if ARM64_INSTANCE_TYPE.match(instance_type):
        reasons.append(f"instance type {instance_type} is arm64 (Graviton)")
    architecture = (props.get("tags") or {}).get(ARCHITECTURE_TAG)
    if architecture == "arm64":
        reasons.append("its AMI is arm64 (golive:architecture arm64)")
    return reasons


def validate_x86_64_only(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    reasons = arm64_reasons(args.resource_type, args.props)
    if reasons:
        report_violation(
            f"{' and '.join(reasons)}, but the release's wheelhouse is built for x86_64 only "
            "(manylinux x86_64: release/build/artifact.py): choose an x86_64 type (t3, m6i, c6i…) and "
            "golive:architecture x86_64",
            None,
        )


POLICIES = [
    ResourceValidationPolicy(
        name="ebs-volumes-encrypted",
        description="Every EC2/EBS volume is encrypted.",
        validate=validate_volumes_encrypted,
    ),
    ResourceValidationPolicy(
        name="ec2-imdsv2-required",
        description="Instances and launch templates require IMDSv2.",
        validate=validate_imdsv2,
    ),
    ResourceValidationPolicy(
        name="ec2-x86-64-only",
        description="Hosts are x86_64: the release ships an x86_64 wheelhouse only.",
        validate=validate_x86_64_only,
    ),
]
