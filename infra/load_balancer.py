"""Load balancer: an ALB in the public subnets; HTTPS with a modern TLS policy, HTTP redirected to HTTPS,
one target group on the service port whose health check is /api/health and whose deregistration delay
is the release's drain time. Internal paths (/metrics) are answered 404 at the edge, as the lab's nginx does:
Prometheus scrapes each instance directly, from inside the VPC."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass
class LoadBalancerArgs:
    vpc_id: pulumi.Input[str]
    subnet_ids: list[pulumi.Input[str]]  # public subnets
    security_group_id: pulumi.Input[str]
    certificate_arn: pulumi.Input[str]
    tls_policy: str
    service_port: int
    health_check_path: str
    drain_seconds: int
    instance_ids: list[pulumi.Input[str]]
    deletion_protection: bool
    tags: dict[str, str]
    internal_paths: tuple[str, ...] = ("/metrics",)


def internal_path_patterns(paths: tuple[str, ...]) -> list[str]:
    """Each path and everything under it; an ALB rule takes at most five patterns."""
    patterns = [pattern for path in paths for pattern in (path, f"{path.rstrip('/')}/*")]
    if not patterns or len(patterns) > 5:
        raise ValueError(f"internal_paths: 1 to 2 paths (an ALB rule takes five patterns), got {list(paths)}")
    return patterns


def health_check(path: str, port: int) -> dict:
    """Two passes in 10 s mark a host healthy again after a restart; two failures take it out."""
    return {
        "enabled": True,
        "path": path,
        "port": str(port),
        "protocol": "HTTP",
        "matcher": "200",
        "interval": 10,
        "timeout": 5,
        "healthy_threshold": 2,
        "unhealthy_threshold": 2,
    }


class LoadBalancer(pulumi.ComponentResource):
    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("golive:infra:LoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=False,
            subnets=args.subnet_ids,
            security_groups=[args.security_group_id],
            drop_invalid_header_fields=True,
            enable_deletion_protection=args.deletion_protection,
            idle_timeout=60,
            tags=args.tags,
            opts=child,
        )
        self.target_group = aws.lb.TargetGroup(
            f"{name}-web",
            port=args.service_port,
            protocol="HTTP",
            target_type="instance",
            vpc_id=args.vpc_id,
            deregistration_delay=args.drain_seconds,
            health_check=health_check(args.health_check_path, args.service_port),
            tags=args.tags,
            opts=child,
        )
        for index, instance_id in enumerate(args.instance_ids):
            aws.lb.TargetGroupAttachment(
                f"{name}-web-{index + 1}",
                target_group_arn=self.target_group.arn,
                target_id=instance_id,
                port=args.service_port,
                opts=child,
            )
        self.https_listener = aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=self.alb.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=args.tls_policy,
            certificate_arn=args.certificate_arn,
            default_actions=[{"type": "forward", "target_group_arn": self.target_group.arn}],
            tags=args.tags,
            opts=child,
        )
        self.internal_paths_rule = aws.lb.ListenerRule(
            f"{name}-internal-paths",
            listener_arn=self.https_listener.arn,
            priority=1,
            conditions=[{"path_pattern": {"values": internal_path_patterns(args.internal_paths)}}],
            actions=[
                {
                    "type": "fixed-response",
                    "fixed_response": {"content_type": "text/plain", "message_body": "Not Found", "status_code": "404"},
                }
            ],
            tags=args.tags,
            opts=child,
        )
        self.http_listener = aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=self.alb.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}}
            ],
            tags=args.tags,
            opts=child,
        )
        self.dns_name = self.alb.dns_name
        self.zone_id = self.alb.zone_id
        self.register_outputs(
            {"dns_name": self.dns_name, "arn": self.alb.arn, "target_group_arn": self.target_group.arn}
        )
