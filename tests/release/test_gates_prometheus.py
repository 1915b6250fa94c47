"""The gates through Prometheus: a real Prometheus (Debian's 2.42) scraping the real service every second; its
figures agree with the /metrics scrape over the same window, a bad window fails on either, and a Prometheus
that is down or answers errors makes the gates fall back to the scrape — said, and recorded."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from foundation.metrics.gates import GateResult, Thresholds, evaluate, scrape_each, verdict, window_of
from foundation.sections import Monitoring
from release.gates.sources import Observation, observe_gates
from tests.support.processes import free_port
from tests.support.prometheus_server import Server, scraping, wait_for_scrapes_after
from tests.support.service import RunningService, phone

THRESHOLDS = Thresholds(window_seconds=8.0, min_requests=20, min_payments=5)


@pytest.fixture(scope="module")
def prometheus(service: RunningService, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = scraping(tmp_path_factory.mktemp("prometheus"), [service.url.removeprefix("http://")])
    yield running
    running.stop()


def by_name(results: list[GateResult]) -> dict[str, GateResult]:
    return {result.name: result for result in results}


def settle(service: RunningService, ids: list[str]) -> None:
    for payment_id in ids:
        assert service.wait_for_state(payment_id)["state"] in ("paid", "failed")


def traffic(service: RunningService, sim, *, paid: int, failed: int, refused: int, reads: int):
    """Idle a scrape interval or so, then payments and reads, then idle again: every request falls between two
    of Prometheus' samples inside the window."""

    def run(_seconds: float) -> None:
        time.sleep(1.5)
        ids = [service.pay(phone("00")).json()["id"] for _ in range(paid)]
        ids += [service.pay(phone("01")).json()["id"] for _ in range(failed)]
        if refused:
            sim.configure(spike_arrest=True)
            assert all(service.pay(phone("00")).status_code == 503 for _ in range(refused))
            sim.configure(spike_arrest=False)
        for _ in range(reads):
            assert service.http.get("/api/packages").status_code == 200
        settle(service, ids)
        time.sleep(1.5)

    return run


def warm_up(service: RunningService, sim) -> None:
    """Every series the windows use exists before them (Prometheus' increase() misses a series' first count)."""
    traffic(service, sim, paid=1, failed=1, refused=1, reads=1)(0)


def observe_both(service: RunningService, prometheus: Server, run) -> tuple[Observation, list[GateResult]]:
    """The gates through Prometheus, and the /metrics scrape of the same window for comparison."""
    urls = [service.url]
    before = scrape_each(urls)
    observation = observe_gates(urls, THRESHOLDS, Monitoring(prometheus.url), traffic=run)
    return observation, evaluate(window_of(before, scrape_each(urls)), THRESHOLDS)


def assert_agree(from_prometheus: list[GateResult], scraped: list[GateResult]) -> None:
    prom, scrape = by_name(from_prometheus), by_name(scraped)
    for name in ("error_rate", "payment_success"):
        assert prom[name].value == pytest.approx(scrape[name].value, abs=0.02), (prom[name], scrape[name])
    assert prom["p95_latency"].value == pytest.approx(scrape["p95_latency"].value, rel=0.25)
    for name in prom:  # counts are extrapolated to the window's edges by increase()
        assert prom[name].samples == pytest.approx(scrape[name].samples, rel=0.25), (prom[name], scrape[name])
        assert prom[name].verdict == scrape[name].verdict, (prom[name], scrape[name])


@pytest.mark.slow
def test_prometheus_figures_agree_with_the_scrape_and_a_bad_window_fails(
    service: RunningService, sim, prometheus: Server
):
    warm_up(service, sim)
    wait_for_scrapes_after(prometheus.url, time.time())

    good, good_scraped = observe_both(service, prometheus, traffic(service, sim, paid=8, failed=0, refused=0, reads=20))
    bad, bad_scraped = observe_both(service, prometheus, traffic(service, sim, paid=5, failed=3, refused=3, reads=20))

    assert (good.source, good.fallback, bad.source, bad.fallback) == ("prometheus", None, "prometheus", None)
    assert {result.source for result in good.results + bad.results} == {"prometheus"}
    assert verdict(good.results) == "pass", good.results
    assert_agree(good.results, good_scraped)
    assert by_name(bad.results)["error_rate"].verdict == "fail", bad.results
    assert by_name(bad.results)["payment_success"].verdict == "fail", bad.results
    assert verdict(bad.results) == "fail"
    assert_agree(bad.results, bad_scraped)
    assert bad.record()["gate_source"] == "prometheus" and "gate_fallback" not in bad.record()


@pytest.mark.slow
def test_prometheus_dying_during_the_window_falls_back_to_the_scrape(service: RunningService, sim, tmp_path: Path):
    dying = scraping(tmp_path / "prometheus", [service.url.removeprefix("http://")])
    lines: list[str] = []
    run = traffic(service, sim, paid=6, failed=0, refused=0, reads=20)

    def traffic_then_prometheus_dies(seconds: float) -> None:
        run(seconds)
        dying.stop()

    try:
        observation = observe_gates(
            [service.url],
            THRESHOLDS,
            Monitoring(dying.url),
            traffic=traffic_then_prometheus_dies,
            progress=lines.append,
        )
    finally:
        dying.stop()

    assert observation.source == "scrape"
    assert observation.fallback.startswith(f"Prometheus unusable after the window: no answer from {dying.url}")
    assert {result.source for result in observation.results} == {"scrape"}
    assert verdict(observation.results) == "pass", observation.results
    assert by_name(observation.results)["payment_success"].samples == 6
    assert any("judging the window from /metrics scraped at its start and end instead" in line for line in lines)
    assert observation.record()["gate_source"] == "scrape"
    assert observation.record()["gate_fallback"] == observation.fallback


# -- without a real Prometheus ---------------------------------------------------------------------------

QUICK = Thresholds(window_seconds=0.5, min_requests=1, min_payments=1)


def test_prometheus_unreachable_before_the_window_falls_back_and_says_so(service: RunningService):
    silent = f"http://127.0.0.1:{free_port()}"
    lines: list[str] = []

    observation = observe_gates([service.url], QUICK, Monitoring(silent, timeout_seconds=2), progress=lines.append)

    assert observation.source == "scrape"
    assert observation.fallback.startswith(f"Prometheus unusable before the window: no answer from {silent}")
    assert lines[0] == f"gates: {observation.fallback}; falling back to scraping /metrics of every instance"
    assert {result.source for result in observation.results} == {"scrape"}
    assert verdict(observation.results) == "inconclusive"  # no traffic: never a silent pass


class ErrorAnswers:
    """Answers every query as a broken Prometheus would: 422 with status "error"."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps({"status": "error", "errorType": "execution", "error": "query timed out"}).encode()
                self.send_response(422)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_prometheus_answering_errors_falls_back_and_says_what_it_answered(service: RunningService):
    broken = ErrorAnswers()
    try:
        observation = observe_gates([service.url], QUICK, Monitoring(broken.url))
    finally:
        broken.server.shutdown()

    assert observation.source == "scrape"
    assert observation.fallback == (
        f"Prometheus unusable before the window: {broken.url} answered 422: execution: query timed out"
    )


def test_without_monitoring_the_gates_scrape_and_record_no_fallback(service: RunningService):
    observation = observe_gates([service.url], QUICK, None)
    assert (observation.source, observation.fallback) == ("scrape", None)
    assert observation.record()["gate_source"] == "scrape" and "gate_fallback" not in observation.record()
