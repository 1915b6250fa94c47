"""A stand-in for the AWS provider under Pulumi's mocks: answers the program's look-ups and returns, for
each resource, its inputs plus the outputs AWS would compute (ids, ARNs, addresses, DNS names), all
deterministic so that snapshots are stable. A look-up it does not know fails loudly."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from typing import Any

import pulumi

ACCOUNT = "123456789012"
ALB_ZONE_IDS = {"eu-west-1": "Z32O12XQLNTSW2", "us-east-1": "Z35SXDOTRQ7X7K", "eu-central-1": "Z215JYRZR1TBD5"}
HOSTED_ZONE_ID = "Z0GOLIVEEXAMPLE"
FIRST_HOST_OFFSET = 10  # host web-n gets its subnet's address .10 + (n - 1)
UNNUMBERED_HOST_OFFSET = 200  # a host without a number (monitoring) gets one from .200 up, by its name

# Properties the provider fills in by auto-naming (logical name + "-" + 7 hex characters).
AUTO_NAMED = {
    "aws:cloudwatch/logGroup:LogGroup": "name",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "name",
    "aws:ec2/keyPair:KeyPair": "keyName",
    "aws:ec2/securityGroup:SecurityGroup": "name",
    "aws:iam/instanceProfile:InstanceProfile": "name",
    "aws:iam/role:Role": "name",
    "aws:lb/loadBalancer:LoadBalancer": "name",
    "aws:lb/targetGroup:TargetGroup": "name",
    "aws:rds/instance:Instance": "identifier",
    "aws:rds/parameterGroup:ParameterGroup": "name",
    "aws:rds/subnetGroup:SubnetGroup": "name",
    "aws:s3/bucket:Bucket": "bucket",
    "aws:sns/topic:Topic": "name",
}

ID_PREFIX = {
    "aws:ec2/vpc:Vpc": "vpc-",
    "aws:ec2/subnet:Subnet": "subnet-",
    "aws:ec2/securityGroup:SecurityGroup": "sg-",
    "aws:ec2/internetGateway:InternetGateway": "igw-",
    "aws:ec2/natGateway:NatGateway": "nat-",
    "aws:ec2/eip:Eip": "eipalloc-",
    "aws:ec2/routeTable:RouteTable": "rtb-",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc-",
    "aws:ec2/flowLog:FlowLog": "fl-",
    "aws:ec2/instance:Instance": "i-",
    "aws:ec2/keyPair:KeyPair": "key-",
}


def digest(*parts: str, length: int = 17) -> str:
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:length]


class FakeAws(pulumi.runtime.Mocks):
    def __init__(self, region: str = "eu-west-1", zone_letters: str = "abc", subnet_cidrs: dict | None = None):
        self.region = region
        self.zones = [f"{region}{letter}" for letter in zone_letters]
        self.subnet_cidrs: dict[str, str] = dict(subnet_cidrs or {})  # subnets created (or given) so far
        self.lookups: list[tuple[str, dict[str, Any]]] = []  # every invoke, in order: (token, arguments)

    # --- look-ups (invokes) ---
    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        answers = {
            "aws:index/getAvailabilityZones:getAvailabilityZones": self._zones,
            "aws:ec2/getAmi:getAmi": self._ami,
            "aws:route53/getZone:getZone": self._hosted_zone,
        }
        self.lookups.append((args.token, dict(args.args)))
        if args.token not in answers:
            raise NotImplementedError(f"FakeAws has no answer for the look-up {args.token}")
        return answers[args.token](args.args)

    def _zones(self, _args: dict) -> dict[str, Any]:
        return {
            "id": self.region,
            "names": list(self.zones),
            "zoneIds": [f"euw1-az{i + 1}" for i in range(len(self.zones))],
            "state": "available",
        }

    def _ami(self, args: dict) -> dict[str, Any]:
        filters = {f["name"]: f["values"] for f in args.get("filters", [])}
        architecture = filters.get("architecture", ["x86_64"])[0]
        arch = "arm64" if architecture == "arm64" else "amd64"
        return {
            "id": "ami-0" + digest("debian-12", arch, length=16),
            "name": f"debian-12-{arch}-20250101-1900",
            "architecture": architecture,
            "ownerId": args["owners"][0],
            "rootDeviceType": "ebs",
            "virtualizationType": "hvm",
        }

    def _hosted_zone(self, args: dict) -> dict[str, Any]:
        name = args["name"].rstrip(".")
        return {"id": HOSTED_ZONE_ID, "zoneId": HOSTED_ZONE_ID, "name": name, "privateZone": False}

    # --- resources ---
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if not args.custom:
            return "", {}
        state = dict(args.inputs)
        if args.typ in AUTO_NAMED:
            state.setdefault(AUTO_NAMED[args.typ], f"{args.name}-{digest(args.typ, args.name, length=7)}")
        physical_id = ID_PREFIX.get(args.typ, "") + digest(args.typ, args.name)
        extra = getattr(self, "_" + _method_name(args.typ), None)
        if extra is not None:
            physical_id = extra(args.name, state) or physical_id
        state.setdefault("arn", self._arn(args.typ, args.name, state))
        state.setdefault("tagsAll", state.get("tags"))
        return physical_id, state

    def _arn(self, typ: str, name: str, state: dict) -> str:
        service = typ.split(":")[1].split("/", maxsplit=1)[0]
        return f"arn:aws:{service}:{self.region}:{ACCOUNT}:{name}/{digest(typ, name, length=12)}"

    def _ec2_subnet(self, name: str, state: dict) -> str:
        subnet_id = "subnet-" + digest("aws:ec2/subnet:Subnet", name)
        self.subnet_cidrs[subnet_id] = state["cidrBlock"]
        return subnet_id

    def _ec2_instance(self, name: str, state: dict) -> None:
        match = re.search(r"(\d+)$", name)
        offset = (
            FIRST_HOST_OFFSET + int(match.group(1)) - 1
            if match
            else UNNUMBERED_HOST_OFFSET + int(digest(name, length=2), 16) % 50
        )
        subnet = ipaddress.IPv4Network(self.subnet_cidrs[state["subnetId"]])
        state["privateIp"] = str(subnet.network_address + offset)
        state["instanceState"] = "running"

    def _ec2_eip(self, name: str, state: dict) -> None:
        state["publicIp"] = str(ipaddress.IPv4Address("203.0.113.0") + int(digest(name, length=2), 16) % 250 + 1)

    def _rds_instance(self, name: str, state: dict) -> str:
        identifier = state["identifier"]
        state["address"] = f"{identifier}.c{digest('rds', length=11)}.{self.region}.rds.amazonaws.com"
        state.setdefault("port", 5432)
        state["endpoint"] = f"{state['address']}:{int(state['port'])}"
        state["arn"] = f"arn:aws:rds:{self.region}:{ACCOUNT}:db:{identifier}"
        return identifier

    def _lb_load_balancer(self, name: str, state: dict) -> str:
        lb_name = state["name"][:32]
        suffix = f"app/{lb_name}/{digest(name, length=16)}"
        state["arnSuffix"] = suffix
        state["arn"] = f"arn:aws:elasticloadbalancing:{self.region}:{ACCOUNT}:loadbalancer/{suffix}"
        state["dnsName"] = f"{lb_name}-{int(digest(name, length=8), 16)}.{self.region}.elb.amazonaws.com"
        state["zoneId"] = ALB_ZONE_IDS.get(self.region, "Z0ALBZONE")
        return state["arn"]

    def _lb_target_group(self, name: str, state: dict) -> str:
        suffix = f"targetgroup/{state['name'][:32]}/{digest(name, length=16)}"
        state["arnSuffix"] = suffix
        state["arn"] = f"arn:aws:elasticloadbalancing:{self.region}:{ACCOUNT}:{suffix}"
        return state["arn"]

    def _lb_listener(self, name: str, state: dict) -> str:
        state["arn"] = f"arn:aws:elasticloadbalancing:{self.region}:{ACCOUNT}:listener/app/{name}/{digest(name)}"
        return state["arn"]

    def _acm_certificate(self, name: str, state: dict) -> str:
        domain = state["domainName"]
        token = digest(domain, length=32)
        state["domainValidationOptions"] = [
            {
                "domainName": domain,
                "resourceRecordName": f"_{token}.{domain}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": f"_{digest(token, length=32)}.acm-validations.aws.",
            }
        ]
        state["arn"] = f"arn:aws:acm:{self.region}:{ACCOUNT}:certificate/{digest(name, length=36)}"
        return state["arn"]

    def _route53_record(self, name: str, state: dict) -> str:
        state["fqdn"] = str(state["name"]).rstrip(".")
        return f"{state['zoneId']}_{state['fqdn']}_{state['type']}"

    def _s3_bucket(self, name: str, state: dict) -> str:
        state["arn"] = f"arn:aws:s3:::{state['bucket']}"
        state["bucketDomainName"] = f"{state['bucket']}.s3.amazonaws.com"
        return state["bucket"]

    def _iam_role(self, name: str, state: dict) -> str:
        state["arn"] = f"arn:aws:iam::{ACCOUNT}:role/{state['name']}"
        return state["name"]

    def _iam_instance_profile(self, name: str, state: dict) -> str:
        state["arn"] = f"arn:aws:iam::{ACCOUNT}:instance-profile/{state['name']}"
        return state["name"]

    def _sns_topic(self, name: str, state: dict) -> str:
        state["arn"] = f"arn:aws:sns:{self.region}:{ACCOUNT}:{state['name']}"
        return state["arn"]

    def _cloudwatch_log_group(self, name: str, state: dict) -> str:
        state["arn"] = f"arn:aws:logs:{self.region}:{ACCOUNT}:log-group:{state['name']}"
        return state["name"]

    def _ec2_key_pair(self, name: str, state: dict) -> str:
        return state["keyName"]


def _method_name(typ: str) -> str:
    """aws:lb/targetGroup:TargetGroup -> lb_target_group."""
    module = typ.split(":")[1].split("/", maxsplit=1)[0]
    resource = re.sub(r"(?<!^)(?=[A-Z])", "_", typ.split(":")[2]).lower()
    return f"{module}_{resource}"
