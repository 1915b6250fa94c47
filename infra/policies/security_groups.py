"""No security group open to the internet, except a load balancer's 80 and 443."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from infra.policies.common import any_anywhere, is_anywhere

PUBLIC_PORTS = frozenset({80, 443})
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LEGACY_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"


def _only_web_port(protocol: Any, from_port: Any, to_port: Any) -> bool:
    return str(protocol).lower() in ("tcp", "6") and from_port == to_port and int(from_port or -1) in PUBLIC_PORTS


def _ports(rule: Mapping[str, Any]) -> str:
    low, high = (rule.get(k) for k in ("fromPort", "toPort"))
    low, high = (int(v) if isinstance(v, int | float) else v for v in (low, high))
    return str(low) if low == high else f"{low}-{high}"


def world_open_rules(resource_type: str, props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The ingress rules of a security group (inline) or a standalone rule that admit anywhere."""
    if resource_type == SECURITY_GROUP:
        return [
            rule
            for rule in props.get("ingress") or []
            if any_anywhere(rule.get("cidrBlocks")) or any_anywhere(rule.get("ipv6CidrBlocks"))
        ]
    if resource_type == INGRESS_RULE:
        cidrs = [props.get("cidrIpv4"), props.get("cidrIpv6")]
        if any(c and is_anywhere(c) for c in cidrs):
            return [
                {"protocol": props.get("ipProtocol"), "fromPort": props.get("fromPort"), "toPort": props.get("toPort")}
            ]
    legacy_ingress = resource_type == LEGACY_RULE and props.get("type") == "ingress"
    if legacy_ingress and (any_anywhere(props.get("cidrBlocks")) or any_anywhere(props.get("ipv6CidrBlocks"))):
        return [props]
    return []


def validate_public_ingress_ports(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for rule in world_open_rules(args.resource_type, args.props):
        if not _only_web_port(rule.get("protocol"), rule.get("fromPort"), rule.get("toPort")):
            report_violation(
                f"ingress from anywhere on {rule.get('protocol')} {_ports(rule)}: "
                "only a load balancer's tcp 80 and 443 may be open to 0.0.0.0/0 or ::/0",
                None,
            )


def validate_public_ingress_only_on_load_balancers(args: StackValidationArgs, report_violation: ReportViolation):
    # A load balancer's `securityGroups` depend on the groups it uses (known at preview, unlike their ids).
    attached = {
        dep.urn
        for lb in args.resources
        if lb.resource_type == LOAD_BALANCER
        for dep in lb.property_dependencies.get("securityGroups", [])
    }
    by_urn = {r.urn: r for r in args.resources}
    for resource in args.resources:
        if not world_open_rules(resource.resource_type, resource.props):
            continue
        group = resource
        if resource.resource_type != SECURITY_GROUP:
            owners = resource.property_dependencies.get("securityGroupId", [])
            group = by_urn.get(owners[0].urn) if owners else None
        if group is None or group.urn not in attached:
            report_violation(
                f"{resource.name} admits traffic from anywhere but is not a load balancer's security group",
                resource.urn,
            )


public_ingress_ports = ResourceValidationPolicy(
    name="security-group-public-ingress-web-only",
    description="Ingress from 0.0.0.0/0 or ::/0 only on tcp 80 and 443.",
    validate=validate_public_ingress_ports,
)

public_ingress_only_on_load_balancers = StackValidationPolicy(
    name="security-group-public-ingress-load-balancer-only",
    description="Only security groups attached to a load balancer admit traffic from anywhere.",
    validate=validate_public_ingress_only_on_load_balancers,
)

POLICIES = [public_ingress_ports, public_ingress_only_on_load_balancers]
