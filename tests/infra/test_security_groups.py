"""infra/security.py under mocks: who may talk to whom."""

from __future__ import annotations

from infra.security import SecurityGroups, SecurityGroupsArgs
from tests.infra.helpers import TAGS

SG = "aws:ec2/securityGroup:SecurityGroup"


def groups(admin_cidr: str | None = None) -> SecurityGroups:
    return SecurityGroups("sg", SecurityGroupsArgs("vpc-1", "10.20.0.0/16", 8000, admin_cidr, TAGS))


def ports(rules: list[dict]) -> list[int]:
    return sorted(int(r["fromPort"]) for r in rules)


def test_load_balancer_takes_80_and_443_from_anywhere_and_talks_only_to_the_service_port(run):
    lb = run(groups).named(SG, "sg-lb").inputs
    assert ports(lb["ingress"]) == [80, 443]
    assert all(r["cidrBlocks"] == ["0.0.0.0/0"] and r["protocol"] == "tcp" for r in lb["ingress"])
    assert [(int(r["fromPort"]), r["cidrBlocks"]) for r in lb["egress"]] == [(8000, ["10.20.0.0/16"])]


def test_the_service_port_is_open_only_to_the_load_balancer_and_no_ssh_with_ssm(run):
    graph = run(lambda: groups(admin_cidr=None))
    lb_id = graph.named(SG, "sg-lb").id
    (rule,) = graph.named(SG, "sg-app").inputs["ingress"]
    assert (int(rule["fromPort"]), int(rule["toPort"]), rule["securityGroups"]) == (8000, 8000, [lb_id])
    assert "cidrBlocks" not in rule


def test_ssh_only_from_the_admin_cidr(run):
    graph = run(lambda: groups(admin_cidr="10.99.0.0/16"))
    ingress = graph.named(SG, "sg-app").inputs["ingress"]
    assert ports(ingress) == [22, 8000]
    (ssh,) = [r for r in ingress if int(r["fromPort"]) == 22]
    assert ssh["cidrBlocks"] == ["10.99.0.0/16"] and "securityGroups" not in ssh


def test_postgres_only_from_the_app_servers_and_nothing_out(run):
    graph = run(groups)
    db = graph.named(SG, "sg-db").inputs
    (rule,) = db["ingress"]
    assert int(rule["fromPort"]) == 5432 and rule["securityGroups"] == [graph.named(SG, "sg-app").id]
    assert db["egress"] == []
