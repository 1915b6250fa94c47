"""Deliberately bad stack configurations, run through the whole program: the policy pack catches what the
organisation forbids, the program refuses what cannot work. Proof that both can fail."""

from __future__ import annotations

import pulumi
import pytest

from infra.offline.policy_check import check
from infra.offline.runner import run_stack


def violated(stack: str, overrides: dict) -> set[tuple[str, str]]:
    return {
        (v.policy, v.urn.split("::")[-1] if v.urn else "stack") for v in check(run_stack(stack, overrides).resources)
    }


def test_a_careless_production_config_is_caught_policy_by_policy():
    careless = {
        "golive:access": "ssh",
        "golive:adminCidr": "0.0.0.0/0",
        "golive:dbBackupRetentionDays": 1,
        "golive:dbDeletionProtection": False,
        "golive:dbMultiAz": False,
        "golive:tlsPolicy": "ELBSecurityPolicy-2016-08",
    }
    assert violated("production", careless) == {
        ("security-group-public-ingress-web-only", "sg-app"),
        ("security-group-public-ingress-load-balancer-only", "sg-app"),
        # the admin network reaches Prometheus and Alertmanager too: from anywhere is caught there as well
        ("security-group-public-ingress-web-only", "sg-monitoring-prometheus-from-admin"),
        ("security-group-public-ingress-load-balancer-only", "sg-monitoring-prometheus-from-admin"),
        ("security-group-public-ingress-web-only", "sg-monitoring-alertmanager-from-admin"),
        ("security-group-public-ingress-load-balancer-only", "sg-monitoring-alertmanager-from-admin"),
        ("rds-backup-retention", "db-postgres"),
        ("rds-production-protection", "db-postgres"),
        ("alb-modern-tls", "lb-https"),
    }


def test_what_production_forbids_staging_may_do():
    assert violated("staging", {"golive:dbDeletionProtection": False, "golive:dbMultiAz": False}) == set()
    assert violated("production", {"golive:dbMultiAz": False}) == {("rds-production-protection", "db-postgres")}


@pytest.mark.parametrize(
    "overrides",
    [
        {"golive:architecture": "arm64"},
        {"golive:instanceType": "t4g.small", "golive:monitoringInstanceType": "m7g.large"},
    ],
)
def test_arm64_hosts_are_refused_the_wheelhouse_is_x86_64_only(overrides):
    violations = check(run_stack("staging", overrides).resources)
    hosts = {v.urn.split("::")[-1] for v in violations if v.policy == "ec2-x86-64-only"}
    assert hosts == {"web-1", "web-2", "monitoring"}
    assert {v.policy for v in violations} == {"ec2-x86-64-only"}
    assert all("wheelhouse is built for x86_64 only" in v.message for v in violations)


def test_ssh_from_an_admin_network_is_allowed():
    run = run_stack("staging", {"golive:access": "ssh", "golive:adminCidr": "10.99.0.0/16"})
    assert check(run.resources) == []
    assert run.outputs["access"] == {
        "method": "ssh",
        "user": "admin",
        "deploy_user": "golive-deploy",
        "ssh_proxy_command": None,
    }
    ingress = run.named("aws:ec2/securityGroup:SecurityGroup", "sg-app").inputs["ingress"]
    assert ["10.99.0.0/16"] in [r.get("cidrBlocks") for r in ingress]
    assert "amazon-ssm-agent" not in run.named("aws:ec2/instance:Instance", "web-1").inputs["userData"]


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"golive:instanceCount": 0}, "golive:instanceCount"),
        ({"golive:dbEngineVersion": "16"}, "postgresql-client-16"),
        ({"golive:domain": "pay.example.org"}, "golive:domain"),
        ({"golive:drainSeconds": 7200}, "golive:drainSeconds"),
        ({"golive:zoneCount": 4}, "golive:zoneCount is 4 but the region has only 3"),
    ],
)
def test_the_program_refuses_what_cannot_work_and_names_it(overrides, named):
    with pytest.raises(ValueError, match=named):
        run_stack("staging", overrides)


def test_a_stack_without_its_secret_is_refused():
    with pytest.raises(pulumi.ConfigMissingError, match="golive:dbPassword"):
        run_stack("staging", {"golive:dbPassword": None})
