"""Alarms: 5xx rate, target response time, unhealthy hosts, RDS CPU and free storage, all to one SNS
topic with an e-mail subscription (AWS sends a confirmation the operator must accept)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

GIB = 1024**3


@dataclass
class AlarmsArgs:
    email: str
    lb_arn_suffix: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]
    db_identifier: pulumi.Input[str]
    error_rate_percent: float
    p95_seconds: float
    db_cpu_percent: int
    db_free_storage_gb: int
    tags: dict[str, str]


class Alarms(pulumi.ComponentResource):
    def __init__(self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("golive:infra:Alarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Not encrypted with the AWS-managed SNS key: CloudWatch cannot publish to a topic under that key
        # (its key policy leaves CloudWatch out), and alarm messages carry no secrets.
        self.topic = aws.sns.Topic(f"{name}-topic", tags=args.tags, opts=child)
        aws.sns.TopicSubscription(
            f"{name}-email", topic=self.topic.arn, protocol="email", endpoint=args.email, opts=child
        )
        self._args = args
        self._prefix = name
        alb = {"LoadBalancer": args.lb_arn_suffix}
        target = {"LoadBalancer": args.lb_arn_suffix, "TargetGroup": args.target_group_arn_suffix}
        db = {"DBInstanceIdentifier": args.db_identifier}

        self.alarms = [
            self._error_rate(alb),
            self._alarm(
                "latency-p95",
                "p95 target response time above the threshold",
                namespace="AWS/ApplicationELB",
                metric="TargetResponseTime",
                dimensions=alb,
                extended_statistic="p95",
                comparison="GreaterThanThreshold",
                threshold=args.p95_seconds,
            ),
            self._alarm(
                "unhealthy-hosts",
                "an app server fails its health check",
                namespace="AWS/ApplicationELB",
                metric="UnHealthyHostCount",
                dimensions=target,
                statistic="Maximum",
                comparison="GreaterThanThreshold",
                threshold=0,
                period=60,
            ),
            self._alarm(
                "db-cpu",
                "database CPU above the threshold",
                namespace="AWS/RDS",
                metric="CPUUtilization",
                dimensions=db,
                statistic="Average",
                comparison="GreaterThanThreshold",
                threshold=args.db_cpu_percent,
            ),
            self._alarm(
                "db-free-storage",
                "database free storage below the threshold",
                namespace="AWS/RDS",
                metric="FreeStorageSpace",
                dimensions=db,
                statistic="Minimum",
                comparison="LessThanThreshold",
                threshold=args.db_free_storage_gb * GIB,
            ),
        ]
        self.topic_arn = self.topic.arn
        self.register_outputs({"topic_arn": self.topic_arn})

    def _alarm(
        self,
        suffix: str,
        description: str,
        *,
        namespace: str,
        metric: str,
        dimensions: dict,
        comparison: str,
        threshold: float,
        statistic: str | None = None,
        extended_statistic: str | None = None,
        period: int = 300,
    ) -> aws.cloudwatch.MetricAlarm:
        return aws.cloudwatch.MetricAlarm(
            f"{self._prefix}-{suffix}",
            alarm_description=f"golive: {description}",
            namespace=namespace,
            metric_name=metric,
            dimensions=dimensions,
            statistic=statistic,
            extended_statistic=extended_statistic,
            period=period,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            comparison_operator=comparison,
            threshold=threshold,
            treat_missing_data="notBreaching",
            alarm_actions=[self.topic.arn],
            ok_actions=[self.topic.arn],
            tags=self._args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _error_rate(self, alb: dict) -> aws.cloudwatch.MetricAlarm:
        """Target 5xx as a percentage of requests (metric math), so quiet hours do not page anyone."""

        def metric(query_id: str, name: str) -> dict:
            return {
                "id": query_id,
                "metric": {
                    "namespace": "AWS/ApplicationELB",
                    "metric_name": name,
                    "dimensions": alb,
                    "period": 300,
                    "stat": "Sum",
                },
            }

        return aws.cloudwatch.MetricAlarm(
            f"{self._prefix}-5xx-rate",
            alarm_description="golive: target 5xx responses above the threshold (% of requests)",
            metric_queries=[
                metric("errors", "HTTPCode_Target_5XX_Count"),
                metric("requests", "RequestCount"),
                {"id": "rate", "expression": "100 * errors / requests", "label": "5xx %", "return_data": True},
            ],
            evaluation_periods=2,
            datapoints_to_alarm=2,
            comparison_operator="GreaterThanThreshold",
            threshold=self._args.error_rate_percent,
            treat_missing_data="notBreaching",
            alarm_actions=[self.topic.arn],
            ok_actions=[self.topic.arn],
            tags=self._args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
