"""EC2: every volume encrypted; the instance metadata service only with session tokens (IMDSv2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

INSTANCE = "aws:ec2/instance:Instance"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
VOLUME = "aws:ebs/volume:Volume"


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
]
