"""infra/network.py under mocks: zones looked up, public and private subnets per zone, NAT, flow logs."""

from __future__ import annotations

import json

import pytest

from infra.network import Network, NetworkArgs, plan_subnets
from tests.infra.helpers import TAGS

SUBNET = "aws:ec2/subnet:Subnet"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
NAT = "aws:ec2/natGateway:NatGateway"


def network(zone_count: int = 2, nat_per_zone: bool = False) -> Network:
    return Network("net", NetworkArgs("10.20.0.0/16", zone_count, nat_per_zone, 30, TAGS))


def test_subnet_plan_puts_public_first_and_private_from_the_tenth_block():
    plan = plan_subnets("10.20.0.0/16", ["eu-west-1a", "eu-west-1b"])
    assert [(p.zone, p.public_cidr, p.private_cidr) for p in plan] == [
        ("eu-west-1a", "10.20.0.0/24", "10.20.10.0/24"),
        ("eu-west-1b", "10.20.1.0/24", "10.20.11.0/24"),
    ]
    with pytest.raises(ValueError, match="no room"):
        plan_subnets("10.20.0.0/22", ["a", "b"])


def test_zones_are_looked_up_not_hard_coded(run):
    graph = run(lambda: network(zone_count=2))
    (token, args) = graph.lookups[0]
    assert token == "aws:index/getAvailabilityZones:getAvailabilityZones" and args["state"] == "available"
    zones = sorted(s.inputs["availabilityZone"] for s in graph.of_type(SUBNET))
    assert zones == ["eu-west-1a", "eu-west-1a", "eu-west-1b", "eu-west-1b"]


def test_more_zones_than_the_region_has_is_an_error_naming_the_key(run):
    with pytest.raises(ValueError, match="golive:zoneCount is 4 but the region has only 3"):
        run(lambda: network(zone_count=4))


def test_public_and_private_subnets_per_zone_none_gives_out_public_addresses(run):
    graph = run(lambda: network(zone_count=3))
    tiers = sorted((s.inputs["tags"]["Tier"], s.inputs["availabilityZone"]) for s in graph.of_type(SUBNET))
    assert tiers == [(t, f"eu-west-1{z}") for t in ("private", "public") for z in "abc"]
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in graph.of_type(SUBNET))


def test_private_subnets_route_out_through_nat_public_through_the_internet_gateway(run):
    graph = run(lambda: network(zone_count=2))
    tables = {t.name: t.inputs["routes"] for t in graph.of_type(ROUTE_TABLE)}
    assert "gatewayId" in tables["net-public"][0] and tables["net-public"][0]["cidrBlock"] == "0.0.0.0/0"
    nat = graph.one(NAT)
    assert nat.inputs["subnetId"] == graph.named(SUBNET, "net-public-eu-west-1a").id
    for zone in ("a", "b"):
        route = tables[f"net-private-eu-west-1{zone}"][0]
        assert route == {"cidrBlock": "0.0.0.0/0", "natGatewayId": nat.id}


@pytest.mark.parametrize(("per_zone", "expected"), [(False, 1), (True, 3)])
def test_one_nat_gateway_or_one_per_zone(run, per_zone, expected):
    graph = run(lambda: network(zone_count=3, nat_per_zone=per_zone))
    nats = graph.of_type(NAT)
    assert len(nats) == expected == len(graph.of_type("aws:ec2/eip:Eip"))
    private_routes = {
        r.inputs["routes"][0]["natGatewayId"] for r in graph.of_type(ROUTE_TABLE) if r.name.startswith("net-private")
    }
    assert len(private_routes) == expected


def test_flow_logs_capture_all_traffic_into_a_retained_log_group(run):
    graph = run(network)
    flow = graph.one("aws:ec2/flowLog:FlowLog").inputs
    group = graph.one("aws:cloudwatch/logGroup:LogGroup")
    assert flow["trafficType"] == "ALL" and flow["logDestination"] == group.outputs["arn"]
    assert group.inputs["retentionInDays"] == 30
    policy = json.loads(graph.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    assert policy["Statement"][0]["Resource"][0] == group.outputs["arn"]


def test_the_vpc_output_carries_the_cidr(run):
    """Pulumi's own style: the assertion lives in an apply that the program returns, so it counts."""

    def build():
        net = network()
        return net.vpc.cidr_block.apply(lambda cidr: _assert_equal(cidr, "10.20.0.0/16"))

    run(build)


def test_an_apply_assertion_that_fails_fails_the_run(run):
    """The harness awaits what the program returns: a failing apply is not silently dropped."""

    def build():
        net = network()
        return net.vpc.cidr_block.apply(lambda cidr: _assert_equal(cidr, "10.99.0.0/16"))

    with pytest.raises(AssertionError):
        run(build)


def _assert_equal(actual, expected):
    assert actual == expected, f"{actual!r} != {expected!r}"
