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


RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def sources(rules: list[dict]) -> set[tuple[int, str]]:
    return {(int(r["fromPort"]), s) for r in rules for s in r.get("securityGroups") or r.get("cidrBlocks")}


def test_the_app_servers_take_the_service_port_from_the_balancer_and_metrics_from_monitoring_no_ssh_with_ssm(run):
    graph = run(lambda: groups(admin_cidr=None))
    lb_id, monitoring_id = graph.named(SG, "sg-lb").id, graph.named(SG, "sg-monitoring").id
    ingress = graph.named(SG, "sg-app").inputs["ingress"]
    assert sources(ingress) == {(8000, lb_id), (8000, monitoring_id), (9101, monitoring_id), (9100, monitoring_id)}
    assert all(int(r["fromPort"]) == int(r["toPort"]) and r["protocol"] == "tcp" for r in ingress)


def test_ssh_only_from_the_admin_cidr(run):
    graph = run(lambda: groups(admin_cidr="10.99.0.0/16"))
    ingress = graph.named(SG, "sg-app").inputs["ingress"]
    assert ports(ingress) == [22, 8000, 8000, 9100, 9101]
    (ssh,) = [r for r in ingress if int(r["fromPort"]) == 22]
    assert ssh["cidrBlocks"] == ["10.99.0.0/16"] and "securityGroups" not in ssh


def monitoring_rules(graph) -> set[tuple[int, str]]:
    group = graph.named(SG, "sg-monitoring")
    assert "ingress" not in group.inputs  # its rules are the standalone ones: inline rules would remove them
    rules = [r.inputs for r in graph.of_type(RULE)]
    assert all(r["securityGroupId"] == group.id and r["ipProtocol"] == "tcp" for r in rules)
    return {(int(r["fromPort"]), r.get("referencedSecurityGroupId") or r["cidrIpv4"]) for r in rules}


def test_monitoring_takes_prometheus_alertmanager_and_journals_from_the_app_servers_only_with_ssm(run):
    graph = run(lambda: groups(admin_cidr=None))
    app = graph.named(SG, "sg-app").id
    assert monitoring_rules(graph) == {(9090, app), (9093, app), (19532, app)}


def test_monitoring_answers_the_admin_network_too_with_ssh(run):
    graph = run(lambda: groups(admin_cidr="10.99.0.0/16"))
    app = graph.named(SG, "sg-app").id
    assert monitoring_rules(graph) == {
        (9090, app),
        (9093, app),
        (19532, app),
        (9090, "10.99.0.0/16"),
        (9093, "10.99.0.0/16"),
    }


def test_postgres_only_from_the_app_servers_and_nothing_out(run):
    graph = run(groups)
    db = graph.named(SG, "sg-db").inputs
    (rule,) = db["ingress"]
    assert int(rule["fromPort"]) == 5432 and rule["securityGroups"] == [graph.named(SG, "sg-app").id]
    assert db["egress"] == []
