"""The gates' arithmetic (design.md, "The release", step 7): what an observation window of the service's
metrics is judged on — HTTP error rate, p95 latency and payment success, each with a minimum sample size —
and reading /metrics of the instances. The defaults are the deployment checklist's success criteria. The
release observes a window (release/gates/); the checks judge what the instances counted since they started."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

import httpx

from foundation.metrics.text import Sample, histogram_quantile, parse_sample, sum_buckets

__all__ = [
    "Figures",
    "GateResult",
    "GateScrapeError",
    "Sample",
    "Thresholds",
    "combine",
    "difference",
    "evaluate",
    "figures_of",
    "judge",
    "metrics_url",
    "scrape",
    "scrape_each",
    "verdict",
    "window_of",
]

Verdict = Literal["pass", "fail", "inconclusive"]
Source = Literal["prometheus", "scrape"]
RATES = ("max_error_rate", "min_payment_success")


@dataclass(frozen=True)
class Thresholds:
    max_error_rate: float = 0.01  # share of HTTP answers that are 5xx
    max_p95_seconds: float = 2.0  # p95 latency of API requests (not probes or scrapes)
    min_payment_success: float = 0.95  # paid / (paid + failed) among payments settled in the window
    min_requests: int = 50  # fewer requests than this → the error-rate and latency gates are inconclusive
    min_payments: int = 10  # fewer settled payments than this → the payment gate is inconclusive
    window_seconds: float = 30.0

    def __post_init__(self) -> None:
        for name in RATES:
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"gate threshold {name} is a fraction between 0 and 1 (0.95 for 95 %)")
        if self.max_p95_seconds <= 0 or self.window_seconds <= 0:
            raise ValueError("gate thresholds max_p95_seconds and window_seconds must be positive")
        if self.min_requests < 0 or self.min_payments < 0:
            raise ValueError("gate thresholds min_requests and min_payments cannot be negative")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Thresholds:
        """From an environment file's gate section; unset keys keep their defaults."""
        known = {field.name: type(field.default) for field in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown gate threshold(s): {', '.join(unknown)} (known: {', '.join(known)})")
        converted: dict[str, Any] = {name: _number(name, value, known[name]) for name, value in values.items()}
        return cls(**converted)


def _number(name: str, value: Any, kind: type) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"gate threshold {name} must be a number, not {value!r}")
    if kind is int:
        if value != int(value):
            raise ValueError(f"gate threshold {name} must be a whole number, not {value!r}")
        return int(value)
    return float(value)


@dataclass(frozen=True)
class GateResult:
    name: str
    value: float | None
    threshold: float
    samples: float
    min_samples: float
    verdict: Verdict
    detail: str
    source: Source = "scrape"  # where the figures came from: "prometheus" (PromQL) or "scrape" (/metrics)


@dataclass(frozen=True)
class Figures:
    """What the gates judge, from a scraped window (figures_of) or from Prometheus (release/gates/sources.py).
    Rates are None when there is nothing to divide by; p95 None when there is no observation."""

    requests: float
    server_errors: float
    error_rate: float | None
    p95: float | None
    paid: float
    settled: float
    payment_success: float | None


class GateScrapeError(Exception):
    """An instance whose /metrics could not be read (named in the message and in `url`)."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"gates: cannot read the metrics of {url}: {reason}")
        self.url = url


# -- reading the instances ----------------------------------------------------------------------------


def scrape_each(urls: Sequence[str], *, timeout: float = 5.0) -> dict[str, Sample]:
    """Each instance's Sample, by its URL (a URL given twice is one instance, read once)."""
    if not urls:
        raise ValueError("gates: no metrics URLs to scrape")
    with httpx.Client(timeout=timeout) as client:
        return {url: _scrape_one(client, url) for url in urls}


def scrape(urls: Sequence[str], *, timeout: float = 5.0) -> Sample:
    """GET each instance's /metrics, parse, and sum over the instances. A URL is the metrics URL itself,
    or an instance's base URL without a path (http://10.0.0.11:8000), which gets /metrics appended."""
    return combine(scrape_each(urls, timeout=timeout).values())


def metrics_url(url: str) -> str:
    """The URL itself, or /metrics under an instance's base URL."""
    return f"{url.rstrip('/')}/metrics" if httpx.URL(url).path in ("", "/") else url


def _scrape_one(client: httpx.Client, instance: str) -> Sample:
    url = metrics_url(instance)
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        raise GateScrapeError(url, f"no answer ({type(exc).__name__}: {exc})") from exc
    if response.status_code != 200:
        raise GateScrapeError(url, f"answered {response.status_code}")
    try:
        return parse_sample(response.text)
    except ValueError as exc:
        raise GateScrapeError(url, f"not a Prometheus text exposition ({exc})") from exc


def combine(samples: Iterable[Sample]) -> Sample:
    """The sum of samples (of several instances, or of their window differences)."""
    samples = list(samples)
    return Sample(
        requests=sum(sample.requests for sample in samples),
        server_errors=sum(sample.server_errors for sample in samples),
        latency_buckets=sum_buckets(dict(sample.latency_buckets) for sample in samples),
        paid=sum(sample.paid for sample in samples),
        failed=sum(sample.failed for sample in samples),
    )


def difference(before: Sample, after: Sample) -> Sample:
    """after - before. A counter that went down means the process restarted in between; its counters
    then all start from zero, so the whole of `after` is the window (as Prometheus' increase() would
    count it). Best applied per instance (observe() does): a restart can hide inside a sum."""
    went_down = (
        after.requests < before.requests
        or after.server_errors < before.server_errors
        or after.paid < before.paid
        or after.failed < before.failed
        or any(after_count < before_count for after_count, before_count in _aligned(before, after))
    )
    if went_down:
        return after
    earlier = dict(before.latency_buckets)
    return Sample(
        requests=after.requests - before.requests,
        server_errors=after.server_errors - before.server_errors,
        latency_buckets=tuple((le, count - earlier.get(le, 0.0)) for le, count in after.latency_buckets),
        paid=after.paid - before.paid,
        failed=after.failed - before.failed,
    )


def _aligned(before: Sample, after: Sample) -> list[tuple[float, float]]:
    earlier = dict(before.latency_buckets)
    return [(count, earlier[le]) for le, count in after.latency_buckets if le in earlier]


# -- judging a window -----------------------------------------------------------------------------------


def evaluate(window: Sample, thresholds: Thresholds) -> list[GateResult]:
    """The three gates over one scraped window: "error_rate", "p95_latency", "payment_success"."""
    return judge(figures_of(window), thresholds, "scrape")


def figures_of(w: Sample) -> Figures:
    settled = w.paid + w.failed
    return Figures(
        requests=w.requests,
        server_errors=w.server_errors,
        error_rate=w.server_errors / w.requests if w.requests else None,
        p95=histogram_quantile(0.95, w.latency_buckets),
        paid=w.paid,
        settled=settled,
        payment_success=w.paid / settled if settled else None,
    )


def judge(figures: Figures, thresholds: Thresholds, source: Source) -> list[GateResult]:
    """The three gates over a window's figures, wherever they came from."""
    results = [
        _error_rate(figures, thresholds),
        _p95_latency(figures, thresholds),
        _payment_success(figures, thresholds),
    ]
    return [replace(result, source=source) for result in results]


def _error_rate(f: Figures, t: Thresholds) -> GateResult:
    rate = f.error_rate
    return _judge(
        "error_rate",
        rate,
        t.max_error_rate,
        samples=f.requests,
        min_samples=t.min_requests,
        ok=rate is not None and rate <= t.max_error_rate,
        detail=f"error rate {_percent(rate)} ({f.server_errors:g} of {f.requests:g} answers 5xx), "
        f"at most {_percent(t.max_error_rate)}",
    )


def _p95_latency(f: Figures, t: Thresholds) -> GateResult:
    p95 = f.p95
    return _judge(
        "p95_latency",
        p95,
        t.max_p95_seconds,
        samples=f.requests,
        min_samples=t.min_requests,
        ok=p95 is not None and p95 <= t.max_p95_seconds,
        detail=f"p95 latency {'-' if p95 is None else f'{p95:.3f} s'} over {f.requests:g} requests, "
        f"at most {t.max_p95_seconds:g} s",
    )


def _payment_success(f: Figures, t: Thresholds) -> GateResult:
    success = f.payment_success
    return _judge(
        "payment_success",
        success,
        t.min_payment_success,
        samples=f.settled,
        min_samples=t.min_payments,
        ok=success is not None and success >= t.min_payment_success,
        detail=f"payment success {_percent(success)} ({f.paid:g} paid, {f.settled - f.paid:g} failed), "
        f"at least {_percent(t.min_payment_success)}",
    )


def _judge(
    name: str, value: float | None, threshold: float, *, samples: float, min_samples: int, ok: bool, detail: str
) -> GateResult:
    if value is None or samples < min_samples:
        why = f"only {samples:g} samples of the {min_samples} needed" if samples < min_samples else "nothing to measure"
        detail = f"{detail}; {why}"
        return GateResult(name, value, threshold, samples, min_samples, "inconclusive", detail)
    return GateResult(name, value, threshold, samples, min_samples, "pass" if ok else "fail", detail)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f} %"


def verdict(results: Sequence[GateResult]) -> Verdict:
    """fail if any gate fails; else inconclusive if any is (or there is none); else pass."""
    verdicts = {result.verdict for result in results}
    if "fail" in verdicts:
        return "fail"
    if "inconclusive" in verdicts or not verdicts:
        return "inconclusive"
    return "pass"


def window_of(start: Mapping[str, Sample], end: Mapping[str, Sample]) -> Sample:
    """The window between two scrape_each of the same instances, instance by instance, summed."""
    return combine(difference(start[url], end[url]) for url in end)
