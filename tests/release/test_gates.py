"""The release's rollback gates: judging a window (pure), reading /metrics of the real service, and the
observation window end to end with synthetic payments against the simulator."""

from __future__ import annotations

import math
import time
import uuid

import pytest

from foundation.metrics.gates import (
    GateResult,
    GateScrapeError,
    Sample,
    Thresholds,
    combine,
    difference,
    evaluate,
    metrics_url,
    scrape,
    verdict,
)
from foundation.metrics.text import histogram_quantile, parse_sample
from release.gates.scraped import observe
from release.gates.synthetic import synthetic_payments
from tests.support.processes import free_port
from tests.support.service import RunningService, phone

INF = math.inf


def fast(n: float) -> tuple[tuple[float, float], ...]:
    """Cumulative buckets of n requests all under 50 ms."""
    return ((0.05, n), (0.5, n), (2.0, n), (INF, n))


def window(requests: float = 100, errors: float = 0, buckets=None, paid: float = 20, failed: float = 0) -> Sample:
    return Sample(requests, errors, fast(requests) if buckets is None else buckets, paid, failed)


def verdicts(results: list[GateResult]) -> dict[str, str]:
    return {result.name: result.verdict for result in results}


# -- evaluate ------------------------------------------------------------------------------------------

ALL_PASS = {"error_rate": "pass", "p95_latency": "pass", "payment_success": "pass"}
SLOW_TAIL = ((0.5, 90), (2.0, 92), (5.0, 100), (INF, 100))  # p95 = 2 + 3 * (95 - 92) / 8 = 3.125 s


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        pytest.param(window(), ALL_PASS, id="all-pass"),
        pytest.param(window(errors=1), ALL_PASS, id="error-rate-at-1%-passes"),
        pytest.param(window(errors=2), {**ALL_PASS, "error_rate": "fail"}, id="error-rate-2%-fails"),
        pytest.param(window(buckets=SLOW_TAIL), {**ALL_PASS, "p95_latency": "fail"}, id="p95-3.1s-fails"),
        pytest.param(
            window(buckets=((0.5, 10), (10.0, 50), (INF, 100))), {**ALL_PASS, "p95_latency": "fail"}, id="p95-in-inf"
        ),
        pytest.param(window(paid=19, failed=1), ALL_PASS, id="success-95%-passes"),
        pytest.param(window(paid=18, failed=2), {**ALL_PASS, "payment_success": "fail"}, id="success-90%-fails"),
        pytest.param(
            window(requests=49, errors=49, buckets=((0.5, 0), (10.0, 0), (INF, 49))),
            {"error_rate": "inconclusive", "p95_latency": "inconclusive", "payment_success": "pass"},
            id="too-few-requests-however-bad",
        ),
        pytest.param(window(paid=9), {**ALL_PASS, "payment_success": "inconclusive"}, id="too-few-payments"),
        pytest.param(window(paid=0, failed=9), {**ALL_PASS, "payment_success": "inconclusive"}, id="9-failed-only"),
        pytest.param(
            Sample(),
            {"error_rate": "inconclusive", "p95_latency": "inconclusive", "payment_success": "inconclusive"},
            id="nothing",
        ),
    ],
)
def test_evaluate_judges_each_gate(sample: Sample, expected: dict[str, str]):
    assert verdicts(evaluate(sample, Thresholds())) == expected


def test_evaluate_reports_values_thresholds_and_samples():
    error_rate, p95, success = evaluate(window(errors=2, buckets=SLOW_TAIL, paid=18, failed=2), Thresholds())

    assert (error_rate.value, error_rate.threshold, error_rate.samples, error_rate.min_samples) == (0.02, 0.01, 100, 50)
    assert p95.value == pytest.approx(3.125)
    assert (p95.threshold, p95.samples) == (2.0, 100)
    assert (success.value, success.threshold, success.samples, success.min_samples) == (0.9, 0.95, 20, 10)
    assert "2 of 100" in error_rate.detail
    assert "3.125 s" in p95.detail
    assert "18 paid, 2 failed" in success.detail


def test_an_inconclusive_gate_says_how_many_samples_it_lacked():
    [error_rate, p95, _] = evaluate(Sample(), Thresholds(min_requests=7))

    assert (error_rate.value, p95.value) == (None, None)
    assert "only 0 samples of the 7 needed" in error_rate.detail


def test_thresholds_are_applied_not_just_the_defaults():
    strict = Thresholds(max_error_rate=0.001, max_p95_seconds=0.01, min_payment_success=1.0, min_requests=1)

    assert verdicts(evaluate(window(errors=1, paid=19, failed=1), strict)) == {
        "error_rate": "fail",
        "p95_latency": "fail",
        "payment_success": "fail",
    }


@pytest.mark.parametrize(
    ("gates", "expected"),
    [
        (["pass", "pass", "pass"], "pass"),
        (["pass", "fail", "pass"], "fail"),
        (["inconclusive", "pass", "pass"], "inconclusive"),
        (["inconclusive", "fail", "inconclusive"], "fail"),
        (["inconclusive", "inconclusive", "inconclusive"], "inconclusive"),
        ([], "inconclusive"),
    ],
)
def test_verdict_combines_the_gates(gates: list[str], expected: str):
    results = [GateResult(f"g{i}", 0.0, 0.0, 0, 0, v, "") for i, v in enumerate(gates)]  # type: ignore[arg-type]

    assert verdict(results) == expected


# -- p95 from buckets (Prometheus' histogram_quantile) -------------------------------------------------


@pytest.mark.parametrize(
    ("q", "buckets", "expected"),
    [
        (0.95, ((0.1, 50), (0.2, 100), (INF, 100)), 0.19),  # 0.1 + 0.1 * 45/50
        (0.95, ((1.0, 100), (INF, 100)), 0.95),  # first bucket: from 0
        (0.95, ((0.1, 95), (0.2, 100), (INF, 100)), 0.1),  # rank exactly on a bound
        (0.5, ((0.005, 0), (0.01, 4), (0.025, 10), (INF, 10)), 0.0125),  # 0.01 + 0.015 * 1/6
        (0.95, ((0.5, 90), (2.0, 92), (5.0, 100), (INF, 100)), 3.125),
        (0.95, ((1.0, 10), (INF, 100)), 1.0),  # in +Inf: the largest finite bound
    ],
)
def test_histogram_quantile_interpolates_inside_the_bucket(q, buckets, expected):
    assert histogram_quantile(q, buckets) == pytest.approx(expected)


@pytest.mark.parametrize("buckets", [(), ((1.0, 0), (INF, 0)), ((INF, 5),), ((1.0, 5), (2.0, 5))])
def test_histogram_quantile_is_none_without_observations_or_bounds(buckets):
    assert histogram_quantile(0.95, buckets) is None


# -- difference and combine ------------------------------------------------------------------------------


def test_difference_subtracts_every_counter():
    before = Sample(100, 2, ((0.1, 80), (1.0, 99), (INF, 100)), 10, 1)
    after = Sample(160, 3, ((0.1, 130), (1.0, 158), (INF, 160)), 25, 2)

    assert difference(before, after) == Sample(60, 1, ((0.1, 50), (1.0, 59), (INF, 60)), 15, 1)


def test_difference_counts_from_zero_after_a_restart():
    before = Sample(100, 2, ((0.1, 80), (1.0, 99), (INF, 100)), 10, 1)
    after = Sample(30, 0, ((0.1, 20), (1.0, 30), (INF, 30)), 12, 0)  # restarted, then 30 requests

    assert difference(before, after) == after


def test_difference_from_an_instance_that_had_no_requests_yet():
    after = Sample(5, 0, fast(5), 1, 0)

    assert difference(Sample(), after) == after


def test_combine_sums_instances_on_their_common_bounds():
    one = Sample(10, 1, ((0.1, 8), (0.5, 9), (INF, 10)), 3, 1)
    two = Sample(20, 0, ((0.1, 5), (0.25, 15), (INF, 20)), 4, 0)

    assert combine([one, two, Sample()]) == Sample(30, 1, ((0.1, 13), (INF, 30)), 7, 1)


# -- parsing the exposition ---------------------------------------------------------------------------

EXPOSITION = """\
# TYPE golive_http_request_duration_seconds histogram
golive_http_request_duration_seconds_bucket{le="0.1",method="GET",route="/api/packages",status="200"} 3.0
golive_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/api/packages",status="200"} 4.0
golive_http_request_duration_seconds_count{method="GET",route="/api/packages",status="200"} 4.0
golive_http_request_duration_seconds_sum{method="GET",route="/api/packages",status="200"} 0.9
golive_http_request_duration_seconds_bucket{le="0.1",method="POST",route="/api/payments",status="503"} 0.0
golive_http_request_duration_seconds_bucket{le="+Inf",method="POST",route="/api/payments",status="503"} 2.0
golive_http_request_duration_seconds_count{method="POST",route="/api/payments",status="503"} 2.0
golive_http_request_duration_seconds_sum{method="POST",route="/api/payments",status="503"} 7.0
golive_http_request_duration_seconds_bucket{le="0.1",method="GET",route="/metrics",status="200"} 50.0
golive_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/metrics",status="200"} 50.0
golive_http_request_duration_seconds_count{method="GET",route="/metrics",status="200"} 50.0
golive_http_request_duration_seconds_bucket{le="0.1",method="GET",route="/api/health",status="503"} 9.0
golive_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/api/health",status="503"} 9.0
golive_http_request_duration_seconds_count{method="GET",route="/api/health",status="503"} 9.0
# TYPE golive_http_request_duration_seconds_created gauge
golive_http_request_duration_seconds_created{method="GET",route="/api/packages",status="200"} 1.7e+09
# TYPE golive_payment_transitions_total counter
golive_payment_transitions_total{result_code="",state="initiated"} 9.0
golive_payment_transitions_total{result_code="0",state="paid"} 6.0
golive_payment_transitions_total{result_code="1",state="failed"} 2.0
golive_payment_transitions_total{result_code="1032",state="failed"} 1.0
# TYPE golive_payment_transitions_created gauge
golive_payment_transitions_created{result_code="0",state="paid"} 1.7e+09
"""


def test_parse_sample_sums_api_routes_and_payment_outcomes():
    assert parse_sample(EXPOSITION) == Sample(6, 2, ((0.1, 3), (INF, 6)), 6, 3)


def test_parse_sample_refuses_what_is_not_an_exposition():
    with pytest.raises(ValueError):
        parse_sample("<html><body>Welcome to nginx!</body></html>")


# -- thresholds from an environment file ------------------------------------------------------------------


def test_thresholds_from_mapping_keeps_defaults_for_unset_keys():
    thresholds = Thresholds.from_mapping({"window_seconds": 8, "min_requests": 20, "max_p95_seconds": 1})

    assert thresholds == Thresholds(window_seconds=8.0, min_requests=20, max_p95_seconds=1.0)
    assert isinstance(thresholds.window_seconds, float)
    assert isinstance(thresholds.min_requests, int)


def test_thresholds_from_mapping_names_unknown_keys():
    with pytest.raises(ValueError, match=r"max_eror_rate, p99") as caught:
        Thresholds.from_mapping({"max_eror_rate": 0.01, "p99": 1, "min_payments": 5})

    assert "max_error_rate" in str(caught.value)  # the known keys, to spot the typo


@pytest.mark.parametrize(
    "values",
    [{"min_payment_success": 95}, {"max_error_rate": "1%"}, {"min_requests": 2.5}, {"min_payments": True}],
)
def test_thresholds_from_mapping_refuses_bad_values(values):
    with pytest.raises(ValueError, match=next(iter(values))):
        Thresholds.from_mapping(values)


# -- scraping the real service ------------------------------------------------------------------------------


def test_scrape_counts_api_requests_but_not_probes_or_scrapes(service: RunningService):
    metrics = f"{service.url}/metrics"
    before = scrape([metrics])

    for _ in range(3):
        assert service.http.get("/api/packages").status_code == 200
    assert service.http.get(f"/api/payments/{uuid.uuid4()}").status_code == 404
    assert service.http.get("/api/health").status_code == 200
    assert service.http.get("/metrics").status_code == 200
    window = difference(before, scrape([metrics]))

    assert (window.requests, window.server_errors, window.paid, window.failed) == (4, 0, 0, 0)
    assert window.latency_buckets[-1] == (INF, 4)
    assert [le for le, _ in window.latency_buckets][:3] == [0.005, 0.01, 0.025]  # app/metrics.py's bounds


def test_scrape_leaves_out_the_probes_of_daraja_and_the_chain_when_they_fail(service_factory, sim):
    """Anyone can call the probes, and they answer 5xx while Daraja or the chain is down: not payers' errors."""
    probed = service_factory(chain_rpc_url=f"http://127.0.0.1:{free_port()}")  # a chain nobody serves
    metrics = f"{probed.url}/metrics"
    before = scrape([metrics])

    sim.configure(spike_arrest=True)
    assert probed.http.post("/api/mpesa/test-auth").status_code == 502
    sim.configure(spike_arrest=False)
    assert probed.http.get("/api/blockchain/health").status_code == 503
    assert probed.http.get("/api/packages").status_code == 200
    window = difference(before, scrape([metrics]))

    assert (window.requests, window.server_errors) == (1, 0)


def test_scrape_counts_server_errors_and_settled_payments(service: RunningService, sim):
    metrics = f"{service.url}/metrics"
    before = scrape([metrics])

    sim.configure(spike_arrest=True)
    assert service.pay(phone("00")).status_code == 503
    sim.configure(spike_arrest=False)
    paid = service.pay(phone("00"))
    assert service.wait_for_state(paid.json()["id"])["state"] == "paid"
    window = difference(before, scrape([metrics]))

    assert (window.server_errors, window.paid, window.failed) == (1, 1, 1)


def test_scrape_sums_instances(service: RunningService, service_factory):
    # Services in the test process share one registry, so each instance shows the same counters.
    instances = [f"{service.url}/metrics", f"{service_factory().url}/metrics"]
    service.http.get("/api/packages")

    one, both = scrape(instances[:1]), scrape(instances)

    assert one.requests > 0
    assert both == combine([one, one])
    assert scrape([instances[0], instances[0]]) == one  # the same instance is read once


@pytest.mark.parametrize(
    ("given", "read"),
    [
        ("http://198.18.0.11:8000", "http://198.18.0.11:8000/metrics"),
        ("http://198.18.0.11:8000/", "http://198.18.0.11:8000/metrics"),
        ("http://198.18.0.11:8000/metrics", "http://198.18.0.11:8000/metrics"),
        ("http://198.18.0.40:9090/federate/metrics", "http://198.18.0.40:9090/federate/metrics"),
    ],
)
def test_an_instance_base_url_means_its_metrics(given: str, read: str):
    assert metrics_url(given) == read


def test_scrape_accepts_instance_base_urls(service: RunningService):
    assert scrape([service.url]) == scrape([f"{service.url}/metrics"])


@pytest.mark.parametrize("path", ["/api/packages", "/nowhere"])
def test_scrape_names_an_instance_that_does_not_serve_metrics(service: RunningService, path: str):
    with pytest.raises(GateScrapeError, match=path) as caught:
        scrape([f"{service.url}/metrics", f"{service.url}{path}"])

    assert caught.value.url == f"{service.url}{path}"


def test_scrape_names_an_instance_that_does_not_answer(service: RunningService):
    silent = f"http://127.0.0.1:{free_port()}/metrics"

    with pytest.raises(GateScrapeError, match=silent):
        scrape([f"{service.url}/metrics", silent], timeout=2)


# -- the observation window, end to end ------------------------------------------------------------------

SHORT = Thresholds(window_seconds=2.0, min_requests=5, min_payments=4)


def payments(service: RunningService, **options):
    def traffic(seconds: float) -> None:
        synthetic_payments(service.url, duration=seconds, rate_per_second=4, settle_timeout=5, **options)

    return traffic


def test_observe_passes_a_healthy_service_under_synthetic_payments(service: RunningService, sim):
    lines: list[str] = []

    window, results = observe(
        [f"{service.url}/metrics"], SHORT, traffic=payments(service), progress=lines.append, progress_every=0.5
    )

    assert verdict(results) == "pass", results
    assert window.paid >= 7
    assert window.failed == 0
    assert any(line.startswith("gates: 1 s / 2 s") for line in lines), lines
    assert "payments settled" in lines[-1]


def test_observe_fails_the_payment_gate_when_payments_fail(service: RunningService, sim):
    window, results = observe([f"{service.url}/metrics"], SHORT, traffic=payments(service, phone_endings=("01",)))

    assert verdicts(results) == {"error_rate": "pass", "p95_latency": "pass", "payment_success": "fail"}
    assert window.paid == 0
    assert window.failed >= 6


def test_observe_fails_when_mpesa_refuses_every_push(service: RunningService, sim):
    sim.configure(spike_arrest=True)

    window, results = observe([f"{service.url}/metrics"], SHORT, traffic=payments(service))

    assert verdicts(results) == {"error_rate": "fail", "p95_latency": "pass", "payment_success": "fail"}
    assert window.server_errors == window.failed >= 6
    assert verdict(results) == "fail"


def test_observe_without_traffic_is_inconclusive(service: RunningService):
    started = time.monotonic()

    _, results = observe([f"{service.url}/metrics"], Thresholds(window_seconds=0.5))

    assert 0.5 <= time.monotonic() - started < 3
    assert verdict(results) == "inconclusive"


def test_observe_waits_for_the_traffic_and_raises_its_failure(service: RunningService):
    def slow_then_broken(seconds: float) -> None:
        time.sleep(seconds + 0.5)
        raise RuntimeError("traffic broke")

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="traffic broke"):
        observe([f"{service.url}/metrics"], Thresholds(window_seconds=0.2), traffic=slow_then_broken)

    assert time.monotonic() - started >= 0.7


def test_observe_refuses_an_instance_that_does_not_answer_before_any_traffic():
    calls: list[float] = []

    with pytest.raises(GateScrapeError):
        observe([f"http://127.0.0.1:{free_port()}/metrics"], SHORT, traffic=calls.append)

    assert calls == []
