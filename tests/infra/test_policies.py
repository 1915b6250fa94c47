"""The policy functions, called directly (a PolicyPack is never constructed here: that starts a server).
Each policy is shown to pass a good resource and to catch a bad one."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pulumi_policy
import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)

from infra.policies import ec2, load_balancers, rds, s3_buckets, security_groups
from infra.policies import pack as pack_module
from infra.policies.common import is_production, stack_of
from infra.policies.pack import POLICIES

OPTS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def urn(typ: str, name: str, stack: str = "staging") -> str:
    return f"urn:pulumi:{stack}::golive::{typ}::{name}"


def violations(policy: ResourceValidationPolicy, typ: str, props: dict, stack: str = "staging") -> list[str]:
    found: list[str] = []
    args = ResourceValidationArgs(typ, props, urn(typ, "r", stack), "r", OPTS, None)
    policy.validate(args, lambda message, _urn=None: found.append(message))
    return found


def policy(name: str):
    return next(p for p in POLICIES if p.name == name)


def test_stack_and_production_come_from_the_urn():
    assert stack_of(urn("aws:rds/instance:Instance", "db", "production")) == "production"
    assert is_production(urn("x", "y", "production")) and not is_production(urn("x", "y", "staging"))


# --- security groups ---

SG = security_groups.SECURITY_GROUP


def sg(*ingress: dict) -> dict:
    return {"ingress": list(ingress)}


def rule(port: int, cidr: str = "0.0.0.0/0", protocol: str = "tcp", to_port: int | None = None) -> dict:
    key = "ipv6CidrBlocks" if ":" in cidr else "cidrBlocks"
    return {"protocol": protocol, "fromPort": float(port), "toPort": float(to_port or port), key: [cidr]}


@pytest.mark.parametrize(
    "props",
    [
        sg(rule(80), rule(443), rule(443, "::/0")),
        sg(rule(22, "10.99.0.0/16"), rule(5432, "10.0.0.0/8")),
        sg({"protocol": "tcp", "fromPort": 8000.0, "toPort": 8000.0, "securityGroups": ["sg-lb"]}),
    ],
)
def test_web_ports_from_anywhere_and_anything_from_private_networks_pass(props):
    assert violations(policy("security-group-public-ingress-web-only"), SG, props) == []


@pytest.mark.parametrize(
    "props",
    [
        sg(rule(22)),
        sg(rule(8000, "::/0")),
        sg(rule(0, protocol="-1")),
        sg(rule(80, to_port=443)),
        sg(rule(443, protocol="udp")),
    ],
)
def test_anything_else_from_anywhere_is_caught(props):
    (message,) = violations(policy("security-group-public-ingress-web-only"), SG, props)
    assert "only a load balancer's tcp 80 and 443" in message


def test_standalone_rules_are_checked_too():
    p = policy("security-group-public-ingress-web-only")
    open_ssh = {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": 22.0, "toPort": 22.0}
    assert violations(p, security_groups.INGRESS_RULE, open_ssh)
    assert not violations(p, security_groups.INGRESS_RULE, {**open_ssh, "fromPort": 443.0, "toPort": 443.0})
    legacy = {"type": "ingress", "cidrBlocks": ["0.0.0.0/0"], "protocol": "tcp", "fromPort": 5432.0, "toPort": 5432.0}
    assert violations(p, security_groups.LEGACY_RULE, legacy)
    assert not violations(p, security_groups.LEGACY_RULE, {**legacy, "type": "egress"})


def node(typ: str, name: str, props: dict, **property_dependencies: list[PolicyResource]) -> PolicyResource:
    return PolicyResource(typ, props, urn(typ, name), name, OPTS, None, None, [], dict(property_dependencies))


def stack_violations(validate, resources: list[PolicyResource]) -> list[str]:
    found: list[str] = []
    validate(StackValidationArgs(resources), lambda message, _urn=None: found.append(message))
    return found


def test_web_ports_from_anywhere_only_on_a_load_balancers_group():
    check = security_groups.validate_public_ingress_only_on_load_balancers
    lb_group = node(SG, "sg-lb", sg(rule(443)))
    app_group = node(SG, "sg-app", sg(rule(443)))
    lb = node(security_groups.LOAD_BALANCER, "alb", {}, securityGroups=[lb_group])
    assert stack_violations(check, [lb_group, lb]) == []
    (message,) = stack_violations(check, [lb_group, app_group, lb])
    assert message.startswith("sg-app admits traffic from anywhere")
    standalone = node(
        security_groups.INGRESS_RULE,
        "https",
        {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": 443.0, "toPort": 443.0},
        securityGroupId=[app_group],
    )
    assert len(stack_violations(check, [lb_group, lb, node(SG, "sg-app", {}), standalone])) == 1


# --- RDS ---

RDS = "aws:rds/instance:Instance"
GOOD_DB = {
    "storageEncrypted": True,
    "publiclyAccessible": False,
    "backupRetentionPeriod": 7.0,
    "deletionProtection": True,
    "multiAz": True,
}


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_a_good_database_passes_every_rds_policy(stack):
    for p in rds.POLICIES:
        assert violations(p, RDS, GOOD_DB, stack) == [], p.name


@pytest.mark.parametrize(
    ("name", "change", "expected"),
    [
        ("rds-storage-encrypted", {"storageEncrypted": False}, "encrypted"),
        ("rds-storage-encrypted", {"storageEncrypted": None}, "encrypted"),
        ("rds-not-public", {"publiclyAccessible": True}, "publicly accessible"),
        ("rds-backup-retention", {"backupRetentionPeriod": 1.0}, "kept 1 days; at least 7"),
        ("rds-backup-retention", {"backupRetentionPeriod": None}, "kept 0 days"),
    ],
)
def test_bad_databases_are_caught(name, change, expected):
    (message,) = violations(policy(name), RDS, {**GOOD_DB, **change})
    assert expected in message


def test_production_needs_deletion_protection_and_multi_az_staging_does_not():
    p = policy("rds-production-protection")
    loose = {**GOOD_DB, "deletionProtection": False, "multiAz": False}
    assert violations(p, RDS, loose, "staging") == []
    assert violations(p, RDS, loose, "production") == [
        "production database must have deletion protection",
        "production database must be multi-AZ",
    ]


# --- EC2 ---

INSTANCE = ec2.INSTANCE
GOOD_INSTANCE = {"rootBlockDevice": {"encrypted": True}, "metadataOptions": {"httpTokens": "required"}}


def test_a_good_instance_passes():
    for p in ec2.POLICIES:
        assert violations(p, INSTANCE, GOOD_INSTANCE) == [], p.name


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"rootBlockDevice": {"encrypted": False}}, ["root volume is not encrypted (encrypted=True)"]),
        ({"rootBlockDevice": None}, ["root volume is not encrypted (encrypted=True)"]),
        (
            {"rootBlockDevice": {"encrypted": True}, "ebsBlockDevices": [{"deviceName": "/dev/xvdb"}]},
            ["/dev/xvdb is not encrypted (encrypted=True)"],
        ),
    ],
)
def test_unencrypted_instance_volumes_are_caught(props, expected):
    assert violations(policy("ebs-volumes-encrypted"), INSTANCE, {**GOOD_INSTANCE, **props}) == expected


def test_unencrypted_volumes_and_launch_templates_are_caught():
    p = policy("ebs-volumes-encrypted")
    assert violations(p, ec2.VOLUME, {"encrypted": False}) and not violations(p, ec2.VOLUME, {"encrypted": True})
    template = {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "false"}}]}
    assert violations(p, ec2.LAUNCH_TEMPLATE, template)


@pytest.mark.parametrize("tokens", ["optional", None])
def test_imdsv1_is_caught(tokens):
    props = {**GOOD_INSTANCE, "metadataOptions": {"httpTokens": tokens} if tokens else {}}
    (message,) = violations(policy("ec2-imdsv2-required"), INSTANCE, props)
    assert "IMDSv2" in message


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"instanceType": "t4g.small"}, "instance type t4g.small is arm64 (Graviton)"),
        ({"instanceType": "c6gn.large"}, "instance type c6gn.large is arm64 (Graviton)"),
        ({"instanceType": "a1.medium"}, "instance type a1.medium is arm64 (Graviton)"),
        ({"tags": {"Architecture": "arm64"}}, "its AMI is arm64 (golive:architecture arm64)"),
    ],
)
def test_arm64_hosts_are_refused_with_the_reason(props, expected):
    (message,) = violations(policy("ec2-x86-64-only"), INSTANCE, {**GOOD_INSTANCE, **props})
    assert message.startswith(expected) and "x86_64 only" in message and "golive:architecture x86_64" in message


@pytest.mark.parametrize("instance_type", ["t3.small", "m6i.large", "m6a.large", "g5.xlarge", "c7i-flex.large"])
def test_x86_64_instance_types_pass(instance_type):
    props = {**GOOD_INSTANCE, "instanceType": instance_type, "tags": {"Architecture": "x86_64"}}
    assert violations(policy("ec2-x86-64-only"), INSTANCE, props) == []


# --- S3 ---

BUCKET = s3_buckets.BUCKET


def bucket_graph(block: dict | None, algorithm: str | None) -> list[PolicyResource]:
    bucket = node(BUCKET, "backups", {"bucket": "backups-1"})
    graph = [bucket]
    if block is not None:
        graph.append(node(s3_buckets.PUBLIC_ACCESS_BLOCK, "pab", block, bucket=[bucket]))
    if algorithm is not None:
        rules = [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": algorithm}}]
        graph.append(node(s3_buckets.ENCRYPTION, "sse", {"bucket": "backups-1", "rules": rules}))
    return graph


FULL_BLOCK = {flag: True for flag in s3_buckets.BLOCKS}


def test_a_private_encrypted_bucket_passes():
    graph = bucket_graph(FULL_BLOCK, "AES256")
    assert stack_violations(s3_buckets.validate_private, graph) == []
    assert stack_violations(s3_buckets.validate_encrypted, graph) == []


@pytest.mark.parametrize("block", [None, {**FULL_BLOCK, "restrictPublicBuckets": False}])
def test_a_bucket_without_a_full_public_access_block_is_caught(block):
    (message,) = stack_violations(s3_buckets.validate_private, bucket_graph(block, "AES256"))
    assert "public access block" in message


@pytest.mark.parametrize("algorithm", [None, "none"])
def test_a_bucket_without_default_encryption_is_caught(algorithm):
    graph = bucket_graph(FULL_BLOCK, algorithm)
    (message,) = stack_violations(s3_buckets.validate_encrypted, graph)
    assert "encryption" in message


def test_public_canned_acls_are_caught():
    p = policy("s3-no-public-acl")
    assert violations(p, BUCKET, {"acl": "public-read"})
    assert violations(p, s3_buckets.BUCKET_ACL, {"acl": "authenticated-read"})
    assert not violations(p, BUCKET, {"acl": "private"}) and not violations(p, BUCKET, {})


# --- load balancers ---

LISTENER = load_balancers.LISTENER


@pytest.mark.parametrize("ssl_policy", ["ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-TLS13-1-3-2021-06"])
def test_modern_tls_policies_pass(ssl_policy):
    assert violations(policy("alb-modern-tls"), LISTENER, {"protocol": "HTTPS", "sslPolicy": ssl_policy}) == []


@pytest.mark.parametrize("ssl_policy", ["ELBSecurityPolicy-2016-08", "ELBSecurityPolicy-TLS-1-1-2017-01", None])
def test_old_or_default_tls_policies_are_caught(ssl_policy):
    (message,) = violations(policy("alb-modern-tls"), LISTENER, {"protocol": "HTTPS", "sslPolicy": ssl_policy})
    assert "is not modern" in message


def test_plain_http_may_only_redirect_to_https():
    p = policy("alb-http-redirects-to-https")
    redirect = {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}
    assert violations(p, LISTENER, {"protocol": "HTTP", "defaultActions": [redirect]}) == []
    forward = {"type": "forward", "targetGroupArn": "arn:tg"}
    assert violations(p, LISTENER, {"protocol": "HTTP", "defaultActions": [forward]})


# One deliberately bad resource (or graph) per policy: the pack has no policy that cannot fail.
BAD = {
    "security-group-public-ingress-web-only": (SG, sg(rule(22))),
    "rds-storage-encrypted": (RDS, {**GOOD_DB, "storageEncrypted": False}),
    "rds-not-public": (RDS, {**GOOD_DB, "publiclyAccessible": True}),
    "rds-backup-retention": (RDS, {**GOOD_DB, "backupRetentionPeriod": 3.0}),
    "rds-production-protection": (RDS, {**GOOD_DB, "multiAz": False}),
    "ebs-volumes-encrypted": (ec2.VOLUME, {"encrypted": False}),
    "ec2-imdsv2-required": (INSTANCE, {**GOOD_INSTANCE, "metadataOptions": {"httpTokens": "optional"}}),
    "ec2-x86-64-only": (INSTANCE, {**GOOD_INSTANCE, "instanceType": "t4g.small"}),
    "s3-no-public-acl": (BUCKET, {"acl": "public-read-write"}),
    "alb-modern-tls": (LISTENER, {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-2016-08"}),
    "alb-http-redirects-to-https": (LISTENER, {"protocol": "HTTP", "defaultActions": [{"type": "forward"}]}),
}
BAD_GRAPHS = {
    "security-group-public-ingress-load-balancer-only": [node(SG, "sg-app", sg(rule(443)))],
    "s3-bucket-private": bucket_graph(None, "AES256"),
    "s3-bucket-encrypted": bucket_graph(FULL_BLOCK, None),
}


@pytest.mark.parametrize("p", POLICIES, ids=lambda p: p.name)
def test_every_policy_in_the_pack_catches_its_bad_example(p):
    if isinstance(p, ResourceValidationPolicy):
        typ, props = BAD[p.name]
        assert violations(p, typ, props, stack="production")
    else:
        assert stack_violations(p.validate, BAD_GRAPHS[p.name])


def test_the_pack_entry_point_builds_one_mandatory_pack_of_every_policy(monkeypatch):
    """infra/policies/__main__.py as the CLI runs it, with PolicyPack replaced (the real one starts a server)."""
    built = []
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: built.append(kwargs))
    runpy.run_path(str(Path(pack_module.__file__).parent / "__main__.py"), run_name="__main__")
    (pack,) = built
    assert pack["name"] == pack_module.PACK_NAME and re.fullmatch(r"[a-zA-Z0-9-_.]{1,100}", pack["name"])
    assert pack["enforcement_level"] == pulumi_policy.EnforcementLevel.MANDATORY
    assert pack["policies"] == POLICIES
    names = [p.name for p in POLICIES]
    assert len(names) == len(set(names))
