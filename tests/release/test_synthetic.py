"""Synthetic payments: real requests to the real service, settled by the Daraja simulator."""

from __future__ import annotations

import itertools
import time

import httpx
import pytest

from release.gates.synthetic import check_target, synthetic_payments
from tests.support.metrics import scrape
from tests.support.processes import free_port
from tests.support.service import RunningService

HTTP_COUNT = "golive_http_request_duration_seconds_count"


def test_pays_at_the_rate_for_the_duration_with_fresh_numbers(service: RunningService, sim):
    lines: list[str] = []

    report = synthetic_payments(
        service.url, duration=1.0, rate_per_second=6, phone_endings=("00", "01"), progress=lines.append
    )

    sent = _sent(report, at_most=6)  # a starved machine sends fewer within the second; never more
    assert (report.accepted, report.refused, report.errors) == (sent, {}, [])
    assert (report.paid, report.failed, report.unsettled) == (sent - sent // 2, sent // 2, 0)  # 00 pays, 01 fails
    numbers = [push["body"]["PhoneNumber"] for push in sim.accepted_pushes()]
    assert len(numbers) == len(set(numbers)) == sent
    assert [number[-2:] for number in numbers] == [("00", "01")[i % 2] for i in range(sent)]  # endings in turn
    assert {push["body"]["Amount"] for push in sim.accepted_pushes()} == {650}  # usdt-5
    assert lines[-1].startswith(f"synthetic: {sent} payments sent, {sent} accepted, {report.paid} paid")


def test_reads_the_packages_after_each_payment(service: RunningService, sim):
    before = scrape(service.http).value(HTTP_COUNT, route="/api/packages")

    report = synthetic_payments(service.url, duration=0.5, rate_per_second=4)

    assert scrape(service.http).value(HTTP_COUNT, route="/api/packages") - before == _sent(report, at_most=2)


def test_counts_refusals_by_status(service: RunningService, sim):
    sim.configure(spike_arrest=True)

    report = synthetic_payments(service.url, duration=0.5, rate_per_second=4)

    sent = _sent(report, at_most=2)
    assert (report.accepted, report.refused) == (0, {503: sent})
    assert (report.paid, report.failed, report.unsettled) == (0, 0, 0)


def test_stops_waiting_for_payments_that_never_settle(service: RunningService, sim):
    started = time.monotonic()

    report = synthetic_payments(service.url, duration=0.5, rate_per_second=4, phone_endings=("90",), settle_timeout=0.5)

    sent = _sent(report, at_most=2)
    assert (report.accepted, report.paid, report.failed, report.unsettled) == (sent, 0, 0, sent)
    assert time.monotonic() - started < 10  # gave up after its 0.5 s, long before the default 10 s wait


def test_records_a_service_that_does_not_answer_without_raising():
    report = synthetic_payments(f"http://127.0.0.1:{free_port()}", duration=0.5, rate_per_second=4)

    sent = _sent(report, at_most=2)
    assert report.accepted == 0
    assert len(report.errors) == 2 * sent  # each payment and each packages read
    assert "ConnectError" in report.errors[0]


def _sent(report, *, at_most: int) -> int:
    """Sending stops when the duration ends, so how many went out depends on how fast the service answered."""
    assert 1 <= report.started <= at_most, report
    return report.started


@pytest.mark.parametrize(
    "url", ["http://192.0.2.10:8000", "https://8.8.8.8", "http://198.18.1.10", "http://10.0.0.5", "not a url"]
)
def test_refuses_targets_outside_loopback_and_the_lab(url: str):
    with pytest.raises(ValueError, match="loopback or the lab"):
        synthetic_payments(url, duration=1)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000", "http://localhost:8000", "http://198.18.0.10", "http://[::1]"]
)
def test_accepts_loopback_and_lab_targets(url: str):
    check_target(url)


@pytest.mark.parametrize(
    "options",
    [
        {"duration": 0},
        {"duration": 3600},
        {"duration": 1, "rate_per_second": 0},
        {"duration": 1, "rate_per_second": 500},
        {"duration": 1, "settle_timeout": 3600},
        {"duration": 1, "phone_endings": ()},
        {"duration": 1, "phone_endings": ("1",)},
    ],
)
def test_is_bounded(options):
    with pytest.raises(ValueError):
        synthetic_payments("http://127.0.0.1:1", **options)


def test_counts_payments_the_service_rate_limits_as_refused(service_factory, sim):
    limited = service_factory(rate_limit_per_minute=1, rate_limit_burst=1)  # the next token is a minute away
    assert httpx.get(f"{limited.url}/api/packages", timeout=10).status_code == 200  # spends the only one

    report = synthetic_payments(limited.url, duration=0.5, rate_per_second=4, settle_timeout=0)

    sent = _sent(report, at_most=2)
    assert (report.accepted, report.refused, report.errors) == (0, {429: sent}, [])


@pytest.mark.slow
def test_backs_off_when_rate_limited(service_factory, sim):
    limited = service_factory(rate_limit_per_minute=60, rate_limit_burst=5)  # then a token a second
    limited_reads = {"route": "unmatched", "method": "GET", "status": "429"}  # refused before routing
    before = scrape(limited.http).value(HTTP_COUNT, **limited_reads)
    started = time.monotonic()

    report = synthetic_payments(limited.url, duration=1.0, rate_per_second=4, settle_timeout=60)

    elapsed = time.monotonic() - started
    sent = _sent(report, at_most=4)
    assert report.accepted + sum(report.refused.values()) == sent and report.accepted >= 1
    assert report.paid == report.accepted  # settled in the end, a poll a second
    # packages reads (one per payment) plus about one refused poll a second, not one every 0.2 s
    assert scrape(limited.http).value(HTTP_COUNT, **limited_reads) - before <= sent + elapsed + 1


def test_admit_keeps_only_the_payers_it_accepts():
    from release.gates.synthetic import _phones  # noqa: PLC0415

    chosen = list(itertools.islice(_phones(("00",), admit=lambda msisdn: msisdn.endswith("700")), 5))
    assert len(chosen) == 5
    assert all(phone.startswith("07") and phone.endswith("700") for phone in chosen)
