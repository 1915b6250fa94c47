"""Network: a VPC over the first N available zones, public and private subnets, NAT, flow logs."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

PRIVATE_OFFSET = 10  # private subnets start at the 10th /24 of the VPC (10.x.10.0/24, 10.x.11.0/24, …)


@dataclass(frozen=True)
class SubnetPlan:
    zone: str
    public_cidr: str
    private_cidr: str


def plan_subnets(vpc_cidr: str, zones: list[str]) -> list[SubnetPlan]:
    """One public and one private /24 per zone: public from the VPC's first /24, private from the 10th."""
    blocks = list(ipaddress.IPv4Network(vpc_cidr).subnets(new_prefix=24))
    if len(zones) > PRIVATE_OFFSET or len(blocks) < PRIVATE_OFFSET + len(zones):
        raise ValueError(f"{vpc_cidr} has no room for {len(zones)} public and private /24 subnets")
    return [SubnetPlan(zone, str(blocks[i]), str(blocks[PRIVATE_OFFSET + i])) for i, zone in enumerate(zones)]


def available_zones(count: int, parent: pulumi.Resource | None = None) -> list[str]:
    """The first `count` zones of the region that need no opt-in (no local or wavelength zones)."""
    found = aws.get_availability_zones(
        state="available",
        filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
        opts=pulumi.InvokeOptions(parent=parent),
    )
    names = sorted(found.names)
    if len(names) < count:
        raise ValueError(f"golive:zoneCount is {count} but the region has only {len(names)} zones: {names}")
    return names[:count]


@dataclass
class NetworkArgs:
    cidr: str
    zone_count: int
    nat_per_zone: bool
    flow_log_retention_days: int
    tags: dict[str, str]


class Network(pulumi.ComponentResource):
    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("golive:infra:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = args.tags
        self.zones = available_zones(args.zone_count, parent=self)
        plan = plan_subnets(args.cidr, self.zones)

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={**tags, "Name": f"{name}-vpc"},
            opts=child,
        )
        self.internet_gateway = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=self.vpc.id, tags={**tags, "Name": f"{name}-igw"}, opts=child
        )
        self.public_route_table = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=self.vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": self.internet_gateway.id}],
            tags={**tags, "Name": f"{name}-public"},
            opts=child,
        )
        self.public_subnets = [self._subnet(name, "public", p.zone, p.public_cidr, tags) for p in plan]
        for p, subnet in zip(plan, self.public_subnets, strict=True):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{p.zone}", subnet_id=subnet.id, route_table_id=self.public_route_table.id, opts=child
            )

        nat_zones = self.zones if args.nat_per_zone else self.zones[:1]
        self.nat_gateways = [
            self._nat(name, zone, subnet, tags)
            for zone, subnet in zip(nat_zones, self.public_subnets[: len(nat_zones)], strict=True)
        ]

        self.private_subnets = [self._subnet(name, "private", p.zone, p.private_cidr, tags) for p in plan]
        for i, (p, subnet) in enumerate(zip(plan, self.private_subnets, strict=True)):
            nat = self.nat_gateways[i % len(self.nat_gateways)]
            table = aws.ec2.RouteTable(
                f"{name}-private-{p.zone}",
                vpc_id=self.vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}],
                tags={**tags, "Name": f"{name}-private-{p.zone}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{p.zone}", subnet_id=subnet.id, route_table_id=table.id, opts=child
            )

        self._flow_logs(name, args.flow_log_retention_days, tags)

        self.vpc_id = self.vpc.id
        self.public_subnet_ids = [s.id for s in self.public_subnets]
        self.private_subnet_ids = [s.id for s in self.private_subnets]
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "zones": self.zones,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
            }
        )

    def _subnet(self, name: str, tier: str, zone: str, cidr: str, tags: dict[str, str]) -> aws.ec2.Subnet:
        return aws.ec2.Subnet(
            f"{name}-{tier}-{zone}",
            vpc_id=self.vpc.id,
            cidr_block=cidr,
            availability_zone=zone,
            map_public_ip_on_launch=False,
            tags={**tags, "Name": f"{name}-{tier}-{zone}", "Tier": tier},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _nat(self, name: str, zone: str, subnet: aws.ec2.Subnet, tags: dict[str, str]) -> aws.ec2.NatGateway:
        child = pulumi.ResourceOptions(parent=self)
        eip = aws.ec2.Eip(f"{name}-nat-{zone}", domain="vpc", tags={**tags, "Name": f"{name}-nat-{zone}"}, opts=child)
        return aws.ec2.NatGateway(
            f"{name}-nat-{zone}",
            allocation_id=eip.id,
            subnet_id=subnet.id,
            tags={**tags, "Name": f"{name}-nat-{zone}"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.internet_gateway]),
        )

    def _flow_logs(self, name: str, retention_days: int, tags: dict[str, str]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        self.flow_log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs", retention_in_days=retention_days, tags=tags, opts=child
        )
        role = aws.iam.Role(
            f"{name}-flow-logs",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=role.id,
            policy=self.flow_log_group.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": [
                                    "logs:CreateLogStream",
                                    "logs:PutLogEvents",
                                    "logs:DescribeLogGroups",
                                    "logs:DescribeLogStreams",
                                ],
                                "Resource": [arn, f"{arn}:*"],
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        self.flow_log = aws.ec2.FlowLog(
            f"{name}-flow-logs",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=self.flow_log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=tags,
            opts=child,
        )
