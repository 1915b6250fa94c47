"""Where the gates' figures come from: Prometheus (PromQL over the window) when the environment names one
(`monitoring: {prometheus_url: ...}`), else — or when Prometheus cannot answer — /metrics of every instance,
scraped at the window's start and end. A fallback is said (progress line) and recorded (Observation.fallback,
the audit record): never a silent pass, and no figures at all is an error, not a verdict."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from foundation.metrics import gates
from foundation.metrics.gates import Figures, GateResult, GateScrapeError, Sample, Source, Thresholds
from foundation.sections import Monitoring
from release.gates import scraped
from release.gates.prometheus_api import Prometheus, PrometheusUnavailable
from release.gates.promql import gate_queries
from release.gates.window import run_window


class GateSourceError(Exception):
    """Neither Prometheus nor the instances' /metrics gave the window's figures."""


@dataclass(frozen=True)
class Observation:
    results: list[GateResult]
    source: Source
    fallback: str | None = None  # why Prometheus, configured, was not used

    def record(self) -> dict[str, Any]:
        """For the audit record: each gate's value, samples, verdict, and where the figures came from."""
        record: dict[str, Any] = {
            "gates": {r.name: {"value": r.value, "samples": r.samples, "verdict": r.verdict} for r in self.results},
            "gate_source": self.source,
        }
        if self.fallback:
            record["gate_fallback"] = self.fallback
        return record


def observe_gates(
    urls: Sequence[str],
    thresholds: Thresholds,
    monitoring: Monitoring | None,
    *,
    traffic: Callable[[float], None] | None = None,
    progress: Callable[[str], None] | None = None,
    progress_every: float = 5.0,
    wall_clock: Callable[[], float] = time.time,
) -> Observation:
    say = progress or (lambda _line: None)
    if monitoring is None:
        _, results = scraped.observe(urls, thresholds, traffic=traffic, progress=say, progress_every=progress_every)
        return Observation(results, "scrape")
    prometheus = Prometheus(monitoring.prometheus_url, timeout=monitoring.timeout_seconds)
    try:
        prometheus.check()
    except PrometheusUnavailable as exc:
        fallback = f"Prometheus unusable before the window: {exc}"
        say(f"gates: {fallback}; falling back to scraping /metrics of every instance")
        _, results = scraped.observe(urls, thresholds, traffic=traffic, progress=say, progress_every=progress_every)
        return Observation(results, "scrape", fallback)
    start, no_start = _scrape_start(urls)  # kept in case Prometheus fails us at the window's end
    say(f"gates: figures from Prometheus at {prometheus.url} (job {monitoring.job})")
    started = wall_clock()

    def line(elapsed: float) -> None:
        say(_progress_line(prometheus, monitoring.job, elapsed, thresholds.window_seconds, wall_clock()))

    run_window(thresholds.window_seconds, traffic, line, progress_every=progress_every)
    ended = wall_clock()
    try:
        figures = _figures(prometheus, monitoring.job, ended - started, ended)
    except PrometheusUnavailable as exc:
        fallback = f"Prometheus unusable after the window: {exc}"
        if start is None:
            raise GateSourceError(f"gates: {fallback}; and /metrics could not be read before it ({no_start})") from exc
        say(f"gates: {fallback}; judging the window from /metrics scraped at its start and end instead")
        window = gates.window_of(start, gates.scrape_each(urls))
        counts = _counts(window.requests, window.paid + window.failed)
        say(f"gates: window of {ended - started:.0f} s (scraped): {counts}")
        return Observation(gates.evaluate(window, thresholds), "scrape", fallback)
    counts = _counts(figures.requests, figures.settled)
    if not figures.requests and not figures.settled:
        counts += f" (nothing at all: does Prometheus scrape the instances as job {monitoring.job!r}?)"
    say(f"gates: window of {ended - started:.0f} s (Prometheus): {counts}")
    return Observation(gates.judge(figures, thresholds, "prometheus"), "prometheus")


def _scrape_start(urls: Sequence[str]) -> tuple[Mapping[str, Sample] | None, str]:
    try:
        return gates.scrape_each(urls), ""
    except (GateScrapeError, ValueError) as exc:
        return None, str(exc)


def _figures(prometheus: Prometheus, job: str, seconds: float, at: float) -> Figures:
    values = prometheus.values(gate_queries(seconds, job).items(), at)
    return Figures(
        requests=values["requests"] or 0.0,
        server_errors=values["server_errors"] or 0.0,
        error_rate=values["error_rate"],
        p95=values["p95_latency"],
        paid=values["paid"] or 0.0,
        settled=values["settled"] or 0.0,
        payment_success=values["payment_success"],
    )


def _counts(requests: float, settled: float) -> str:
    return f"{requests:g} requests, {settled:g} payments settled"


def _progress_line(prometheus: Prometheus, job: str, elapsed: float, window: float, now: float) -> str:
    queries = gate_queries(max(elapsed, 1.0), job)
    try:
        so_far = _counts(prometheus.query(queries.requests, now) or 0.0, prometheus.query(queries.settled, now) or 0.0)
    except PrometheusUnavailable as exc:
        so_far = str(exc)
    return f"gates: {elapsed:.0f} s / {window:g} s, {so_far} (Prometheus)"
