"""DNS: the service's name in its public Route 53 zone, an alias of the load balancer."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


def lookup_zone(name: str) -> aws.route53.AwaitableGetZoneResult:
    """The public hosted zone the operator created (and delegated) before the first `pulumi up`."""
    return aws.route53.get_zone(name=name, private_zone=False)


@dataclass
class ServiceDnsArgs:
    domain: str
    zone_id: pulumi.Input[str]
    lb_dns_name: pulumi.Input[str]
    lb_zone_id: pulumi.Input[str]


class ServiceDns(pulumi.ComponentResource):
    def __init__(self, name: str, args: ServiceDnsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("golive:infra:ServiceDns", name, None, opts)
        self.record = aws.route53.Record(
            f"{name}-service",
            zone_id=args.zone_id,
            name=args.domain,
            type="A",
            aliases=[{"name": args.lb_dns_name, "zone_id": args.lb_zone_id, "evaluate_target_health": True}],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.fqdn = self.record.fqdn
        self.register_outputs({"fqdn": self.fqdn})
