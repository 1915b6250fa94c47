"""infra/alarms.py under mocks: the five alarms, all to one topic with an e-mail subscription."""

from __future__ import annotations

from infra.alarms import GIB, Alarms, AlarmsArgs
from tests.infra.helpers import TAGS

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def alarms() -> Alarms:
    return Alarms(
        "alarms",
        AlarmsArgs(
            email="ops@example.com",
            lb_arn_suffix="app/lb/123",
            target_group_arn_suffix="targetgroup/web/456",
            db_identifier="db-1",
            error_rate_percent=2.0,
            p95_seconds=0.8,
            db_cpu_percent=75,
            db_free_storage_gb=4,
            tags=TAGS,
        ),
    )


def test_five_alarms_on_the_right_metrics_and_thresholds(run):
    graph = run(alarms)
    found = {a.name: a.inputs for a in graph.of_type(ALARM)}
    assert sorted(found) == [
        "alarms-5xx-rate",
        "alarms-db-cpu",
        "alarms-db-free-storage",
        "alarms-latency-p95",
        "alarms-unhealthy-hosts",
    ]
    p95 = found["alarms-latency-p95"]
    assert (p95["metricName"], p95["extendedStatistic"], p95["threshold"]) == ("TargetResponseTime", "p95", 0.8)
    unhealthy = found["alarms-unhealthy-hosts"]
    assert unhealthy["dimensions"] == {"LoadBalancer": "app/lb/123", "TargetGroup": "targetgroup/web/456"}
    assert (unhealthy["threshold"], unhealthy["comparisonOperator"]) == (0, "GreaterThanThreshold")
    assert (found["alarms-db-cpu"]["threshold"], found["alarms-db-cpu"]["dimensions"]) == (
        75,
        {"DBInstanceIdentifier": "db-1"},
    )
    storage = found["alarms-db-free-storage"]
    assert (storage["threshold"], storage["comparisonOperator"]) == (4 * GIB, "LessThanThreshold")


def test_the_error_alarm_is_a_rate_not_a_count(run):
    rate = run(alarms).named(ALARM, "alarms-5xx-rate").inputs
    queries = {q["id"]: q for q in rate["metricQueries"]}
    assert queries["rate"]["expression"] == "100 * errors / requests" and queries["rate"]["returnData"] is True
    assert queries["errors"]["metric"]["metricName"] == "HTTPCode_Target_5XX_Count"
    assert queries["requests"]["metric"]["metricName"] == "RequestCount"
    assert rate["threshold"] == 2.0


def test_every_alarm_and_its_recovery_go_to_the_topic_that_mails_the_operators(run):
    graph = run(alarms)
    topic = graph.one("aws:sns/topic:Topic")
    subscription = graph.one("aws:sns/topicSubscription:TopicSubscription").inputs
    assert subscription == {"topic": topic.outputs["arn"], "protocol": "email", "endpoint": "ops@example.com"}
    for alarm in graph.of_type(ALARM):
        assert alarm.inputs["alarmActions"] == alarm.inputs["okActions"] == [topic.outputs["arn"]]
        assert alarm.inputs["treatMissingData"] == "notBreaching"
