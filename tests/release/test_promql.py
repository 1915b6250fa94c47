"""The gates' PromQL (exact strings: what Prometheus is asked is part of the contract) and the reading of
Prometheus' instant-query answers."""

from __future__ import annotations

import json
import math
import subprocess

import pytest

from release.gates.promql import gate_queries, instant_value, range_selector
from tests.support.debian_tools import tool_or_skip

API = 'job="golive_web",route!~"/api/blockchain/health|/api/health|/api/mpesa/test-auth|/metrics"'
REQUESTS = f"sum(increase(golive_http_request_duration_seconds_count{{{API}}}[30s]))"
SERVER_ERRORS = (
    f'clamp_min((sum(increase(golive_http_request_duration_seconds_count{{{API},status=~"5.."}}[30s])) or vector(0))'
    ' - (sum(increase(golive_payments_refused_total{job="golive_web",reason=~"payments_not_available"}[30s]))'
    " or vector(0)), 0)"
)
PAID = 'sum(increase(golive_payment_transitions_total{job="golive_web",state="paid"}[30s]))'
SETTLED = 'sum(increase(golive_payment_transitions_total{job="golive_web",state=~"paid|failed"}[30s]))'


def test_the_gate_queries_exactly():
    queries = gate_queries(30, "golive_web")

    assert queries.requests == REQUESTS
    assert queries.server_errors == SERVER_ERRORS
    assert queries.error_rate == f"{SERVER_ERRORS} / {REQUESTS}"
    assert queries.p95_latency == (
        f"histogram_quantile(0.95, sum by (le) (increase(golive_http_request_duration_seconds_bucket{{{API}}}[30s])))"
    )
    assert queries.paid == PAID
    assert queries.settled == SETTLED
    assert queries.payment_success == f"({PAID} or vector(0)) / {SETTLED}"
    assert [name for name, _ in queries.items()] == [
        "requests",
        "server_errors",
        "error_rate",
        "p95_latency",
        "settled",
        "paid",
        "payment_success",
    ]


def test_the_job_and_the_window_are_the_environments():
    queries = gate_queries(7.2, "web-2.lab:x")
    assert 'job="web-2.lab:x"' in queries.requests and queries.requests.endswith("[8s]))")


@pytest.mark.parametrize(("seconds", "selector"), [(30, "[30s]"), (29.01, "[30s]"), (0.2, "[1s]"), (300.0, "[300s]")])
def test_a_window_is_whole_seconds_rounded_up(seconds: float, selector: str):
    assert range_selector(seconds) == selector


@pytest.mark.parametrize("seconds", [0, -1, math.inf, math.nan])
def test_a_window_must_be_positive_and_finite(seconds: float):
    with pytest.raises(ValueError, match="positive number of seconds"):
        range_selector(seconds)


@pytest.mark.parametrize("job", ['golive"} or vector(1) #', "", "a b", "x" * 101])
def test_a_job_that_could_break_out_of_the_selector_is_refused(job: str):
    with pytest.raises(ValueError, match="job name"):
        gate_queries(30, job)


@pytest.mark.parametrize(
    ("data", "value"),
    [
        ({"resultType": "vector", "result": [{"metric": {}, "value": [1700000000.1, "12.5"]}]}, 12.5),
        ({"resultType": "vector", "result": []}, None),  # no series: nothing to measure
        ({"resultType": "vector", "result": [{"metric": {}, "value": [1700000000, "NaN"]}]}, None),  # 0 / 0
        ({"resultType": "scalar", "result": [1700000000, "1"]}, 1.0),
        ({"resultType": "vector", "result": [{"metric": {}, "value": [1700000000, "+Inf"]}]}, math.inf),
    ],
)
def test_an_instant_answer_is_one_number_or_none(data, value):
    assert instant_value(data) == value


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (None, "no data"),
        ({"resultType": "matrix", "result": []}, "a matrix result"),
        ({"resultType": "vector", "result": [{"value": [1, "1"]}, {"value": [1, "2"]}]}, "2 series"),
        ({"resultType": "vector", "result": [{"value": "1"}]}, "not a \\[time, value\\] pair"),
        ({"resultType": "string", "result": [1, "x"]}, "a string result"),
    ],
)
def test_anything_else_is_refused(data, says: str):
    with pytest.raises(ValueError, match=says):
        instant_value(data)


# -- the queries evaluated by Prometheus' own engine (promtool) ---------------------------------------------------


def _series(route: str, status: str, per_minute: int) -> dict[str, str]:
    labels = f'job="golive_web", instance="web1:8000", route="{route}", method="GET", status="{status}"'
    return {"series": f"golive_http_request_duration_seconds_count{{{labels}}}", "values": f"0+{per_minute}x15"}


def test_the_error_rate_leaves_out_failing_probes_as_prometheus_evaluates_it(tmp_path):
    """100 API answers a minute, 1 of them a 500; the probes of Daraja and the chain failing 40 times a minute
    (anyone may call them) and failing health checks do not count: 1 %, not 30 %."""
    promtool = tool_or_skip("promtool")
    queries = gate_queries(300, "golive_web")
    (tmp_path / "empty.rules.yml").write_text("groups: []\n")
    case = {
        "rule_files": ["empty.rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    _series("/api/payments", "202", 99),
                    _series("/api/payments", "500", 1),
                    _series("/api/mpesa/test-auth", "502", 20),
                    _series("/api/blockchain/health", "503", 20),
                    _series("/api/health", "503", 5),
                ],
                "promql_expr_test": [
                    {"expr": queries.requests, "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": 500}]},
                    {"expr": queries.error_rate, "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": 0.01}]},
                ],
            }
        ],
    }
    (tmp_path / "gates.test.yml").write_text(json.dumps(case))  # JSON is YAML

    command = [str(promtool), "test", "rules", "gates.test.yml"]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)

    assert run.returncode == 0, run.stdout + run.stderr
