"""The service's /metrics (Prometheus text exposition) reduced to the few sums the release gates read,
and Prometheus' histogram_quantile over them. The metric names are those of app/metrics.py."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

HTTP_HISTOGRAM = "golive_http_request_duration_seconds"
PAYMENT_TRANSITIONS = "golive_payment_transitions_total"
# The routes that do not count: scrapes, health checks and the probes of Daraja and the chain (a smoke test's or an
# operator's, answering 5xx when the outside world is down) are not API traffic. The alert rules leave out the same
# (roles/monitoring/files/rules, checked by tests/roles/test_alert_rules.py).
EXCLUDED_ROUTES = frozenset({"/metrics", "/api/health", "/api/mpesa/test-auth", "/api/blockchain/health"})

Buckets = tuple[tuple[float, float], ...]  # cumulative (le, count), ascending, +Inf last

REFUSALS = "golive_payments_refused_total"
DELIBERATE_REFUSALS = ("payments_not_available",)


@dataclass(frozen=True)
class Sample:
    """Counters summed over instances at one moment, or a difference of two such."""

    requests: float = 0.0
    server_errors: float = 0.0
    latency_buckets: Buckets = ()
    paid: float = 0.0
    failed: float = 0.0


def parse_sample(text: str) -> Sample:
    """One instance's exposition → its Sample. Raises ValueError when the text is not an exposition."""
    requests = server_errors = paid = failed = deliberate = 0.0
    series: dict[frozenset[tuple[str, str]], dict[float, float]] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == PAYMENT_TRANSITIONS:
                paid += sample.value if labels.get("state") == "paid" else 0.0
                failed += sample.value if labels.get("state") == "failed" else 0.0
            elif sample.name == REFUSALS and labels.get("reason") in DELIBERATE_REFUSALS:
                deliberate += sample.value
            elif labels.get("route") in EXCLUDED_ROUTES:
                continue
            elif sample.name == f"{HTTP_HISTOGRAM}_count":
                requests += sample.value
                server_errors += sample.value if labels.get("status", "").startswith("5") else 0.0
            elif sample.name == f"{HTTP_HISTOGRAM}_bucket":
                key = frozenset((name, value) for name, value in labels.items() if name != "le")
                series[key][float(labels["le"])] = sample.value
    # A payer outside a rollout gets a 503 on purpose: an answer, not a server error.
    return Sample(requests, max(0.0, server_errors - deliberate), sum_buckets(series.values()), paid, failed)


def sum_buckets(histograms: Iterable[dict[float, float]]) -> Buckets:
    """Cumulative buckets added bound by bound. Only the bounds every histogram has are kept: a
    cumulative count is exact at its own bounds and unknown between them."""
    histograms = [histogram for histogram in histograms if histogram]
    if not histograms:
        return ()
    bounds = set.intersection(*(set(histogram) for histogram in histograms))
    return tuple((le, sum(histogram[le] for histogram in histograms)) for le in sorted(bounds))


def histogram_quantile(q: float, buckets: Buckets) -> float | None:
    """Prometheus' histogram_quantile: linear interpolation inside the bucket holding the rank (from 0 for
    the first bucket); a rank in the +Inf bucket gives the largest finite bound. None when there are no
    observations or no finite bucket."""
    if not 0 < q <= 1:
        raise ValueError(f"quantile {q} is not in (0, 1]")
    if len(buckets) < 2 or not math.isinf(buckets[-1][0]) or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    index = next(i for i, (_, count) in enumerate(buckets) if count >= rank)
    if index == len(buckets) - 1:
        return buckets[-2][0]
    upper, count = buckets[index]
    if index == 0 and upper <= 0:
        return upper
    lower, below = buckets[index - 1] if index > 0 else (0.0, 0.0)
    return lower + (upper - lower) * (rank - below) / (count - below)
