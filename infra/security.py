"""Security groups: the load balancer takes 80/443 from anywhere; the service port only from the load
balancer; PostgreSQL only from the app servers; SSH only from the admin CIDR, or not at all with SSM.
The monitoring host scrapes the app servers (service, worker and node exporter metrics) and takes their
journals and Prometheus/Alertmanager's ports from them (and from the admin CIDR with SSH access)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

ANYWHERE = "0.0.0.0/0"
POSTGRES_PORT = 5432
# The monitoring host's ports (playbooks/group_vars/all/main.yml names the same for the hosts' firewalls).
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
JOURNAL_REMOTE_PORT = 19532
NODE_EXPORTER_PORT = 9100
WORKER_METRICS_PORT = 9101


@dataclass
class SecurityGroupsArgs:
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    service_port: int
    admin_cidr: str | None  # SSH source; None: no port 22 at all (hosts are reached through SSM)
    tags: dict[str, str]


class SecurityGroups(pulumi.ComponentResource):
    def __init__(self, name: str, args: SecurityGroupsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("golive:infra:SecurityGroups", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        port = args.service_port

        self.load_balancer = aws.ec2.SecurityGroup(
            f"{name}-lb",
            vpc_id=args.vpc_id,
            description="golive load balancer: HTTP and HTTPS from anywhere",
            ingress=[_tcp(80, cidr=ANYWHERE, what="HTTP (redirected)"), _tcp(443, cidr=ANYWHERE, what="HTTPS")],
            egress=[_tcp(port, cidr=args.vpc_cidr, what="to the app servers")],
            tags={**args.tags, "Name": f"{name}-lb"},
            opts=child,
        )

        # Its rules are standalone (below): they and the app servers' name each other.
        self.monitoring = aws.ec2.SecurityGroup(
            f"{name}-monitoring",
            vpc_id=args.vpc_id,
            description="golive monitoring: Prometheus, Alertmanager and journals from the app servers",
            egress=[_everywhere("apt, the blackbox probe of the public entry point, alert receivers, SSM")],
            tags={**args.tags, "Name": f"{name}-monitoring"},
            opts=child,
        )

        ingress = [
            _tcp(port, group=self.load_balancer.id, what="service from the load balancer"),
            _tcp(port, group=self.monitoring.id, what="service metrics scraped by Prometheus"),
            _tcp(WORKER_METRICS_PORT, group=self.monitoring.id, what="worker metrics scraped by Prometheus"),
            _tcp(NODE_EXPORTER_PORT, group=self.monitoring.id, what="node exporter scraped by Prometheus"),
        ]
        if args.admin_cidr:
            ingress.append(_tcp(22, cidr=args.admin_cidr, what="SSH from the admin network"))
        self.app = aws.ec2.SecurityGroup(
            f"{name}-app",
            vpc_id=args.vpc_id,
            description="golive app servers",
            ingress=ingress,
            egress=[_everywhere("apt, Daraja, chain RPC, SSM and S3 through the NAT")],
            tags={**args.tags, "Name": f"{name}-app"},
            opts=child,
        )

        self.database = aws.ec2.SecurityGroup(
            f"{name}-db",
            vpc_id=args.vpc_id,
            description="golive database: PostgreSQL from the app servers",
            ingress=[_tcp(POSTGRES_PORT, group=self.app.id, what="PostgreSQL from the app servers")],
            egress=[],
            tags={**args.tags, "Name": f"{name}-db"},
            opts=child,
        )

        rules = [
            ("prometheus-from-app", PROMETHEUS_PORT, {"referenced_security_group_id": self.app.id}),
            ("alertmanager-from-app", ALERTMANAGER_PORT, {"referenced_security_group_id": self.app.id}),
            ("journal-from-app", JOURNAL_REMOTE_PORT, {"referenced_security_group_id": self.app.id}),
        ]
        if args.admin_cidr:
            rules += [
                ("prometheus-from-admin", PROMETHEUS_PORT, {"cidr_ipv4": args.admin_cidr}),
                ("alertmanager-from-admin", ALERTMANAGER_PORT, {"cidr_ipv4": args.admin_cidr}),
            ]
        for what, to, source in rules:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-monitoring-{what}",
                security_group_id=self.monitoring.id,
                ip_protocol="tcp",
                from_port=to,
                to_port=to,
                description=what.replace("-", " "),
                **source,
                opts=child,
            )

        self.register_outputs(
            {
                "load_balancer_id": self.load_balancer.id,
                "app_id": self.app.id,
                "database_id": self.database.id,
                "monitoring_id": self.monitoring.id,
            }
        )


def _tcp(port: int, *, what: str, cidr: str | None = None, group: pulumi.Input[str] | None = None) -> dict:
    rule: dict = {"protocol": "tcp", "from_port": port, "to_port": port, "description": what}
    if cidr:
        rule["cidr_blocks"] = [cidr]
    if group is not None:
        rule["security_groups"] = [group]
    return rule


def _everywhere(what: str) -> dict:
    return {"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": [ANYWHERE], "description": what}
