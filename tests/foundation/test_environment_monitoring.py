"""An environment's `monitoring:` section (the gates' Prometheus): parsed, and refused with a clear error."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from foundation.environment import ENVIRONMENTS_DIR, EnvironmentInvalid, parse_environment
from foundation.sections import Monitoring


def local(**changes: Any) -> dict[str, Any]:
    raw = yaml.safe_load((ENVIRONMENTS_DIR / "local.yml").read_text())
    return {**raw, **changes}


def test_without_monitoring_the_gates_scrape():
    assert parse_environment(local()).monitoring is None


def test_monitoring_names_prometheus_with_defaults():
    env = parse_environment(local(monitoring={"prometheus_url": "http://198.18.0.40:9090/"}))
    assert env.monitoring == Monitoring("http://198.18.0.40:9090", "golive_web", 5.0)


def test_monitoring_takes_a_job_and_a_timeout():
    raw = {"prometheus_url": "https://prom.example.com/prometheus", "job": "web", "timeout_seconds": 2}
    assert parse_environment(local(monitoring=raw)).monitoring == Monitoring(
        "https://prom.example.com/prometheus", "web", 2.0
    )


@pytest.mark.parametrize(
    ("monitoring", "says"),
    [
        ("http://198.18.0.40:9090", "monitoring takes a mapping"),
        ({}, "monitoring.prometheus_url is missing"),
        ({"prometheus_url": ""}, "monitoring.prometheus_url is missing"),
        ({"prometheus_url": "198.18.0.40:9090"}, "must be Prometheus' http\\(s\\):// base URL, not '198.18.0.40:9090'"),
        ({"prometheus_url": "http://198.18.0.40:nine"}, "must be Prometheus' http\\(s\\):// base URL"),
        ({"prometheus_url": "http://h:9090/?x=1"}, "must be Prometheus' http\\(s\\):// base URL"),
        ({"prometheus_url": "http://admin:hunter2@h:9090"}, "must not carry credentials"),
        ({"prometheus_url": "http://h:9090", "job": 'x"}'}, "monitoring.job must be a scrape job name"),
        ({"prometheus_url": "http://h:9090", "timeout_seconds": 0}, "timeout_seconds must be a number"),
        ({"prometheus_url": "http://h:9090", "timeout_seconds": "5"}, "timeout_seconds must be a number"),
        ({"prometheus_url": "http://h:9090", "url": "x"}, "unknown keys url \\(known: job, logs_host, prometheus_url"),
    ],
)
def test_bad_monitoring_is_named(monitoring: Any, says: str):
    with pytest.raises(EnvironmentInvalid, match=f"environment local: {says}" if "mapping" in says else says) as bad:
        parse_environment(local(monitoring=monitoring))
    assert "hunter2" not in str(bad.value)
