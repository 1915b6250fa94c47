"""Prometheus metrics, correct across worker processes.

With PROMETHEUS_MULTIPROC_DIR set (the process manager sets it, and clears the folder at start-up),
every worker writes its samples to files there and /metrics aggregates them all; without it (a single
process, the tests) the default registry is used.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0)

HTTP_REQUEST_DURATION = Histogram(
    "golive_http_request_duration_seconds",
    "HTTP request latency by route template, method and status",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
PAYMENT_TRANSITIONS = Counter(
    "golive_payment_transitions_total",
    "Payment state transitions, by the state entered and the M-Pesa result code (empty when none)",
    ["state", "result_code"],
)
DARAJA_REQUEST_DURATION = Histogram(
    "golive_daraja_request_duration_seconds",
    "Daraja API call latency by operation and outcome (ok or the error)",
    ["operation", "outcome"],
    buckets=LATENCY_BUCKETS,
)
DARAJA_ERRORS = Counter(
    "golive_daraja_errors_total",
    "Daraja API calls that failed, by operation and error code (or timeout, connect_error, bad_answer)",
    ["operation", "error"],
)
DARAJA_CONFIG_ERRORS = Counter(
    "golive_daraja_config_errors_total",
    "Callbacks saying our M-Pesa configuration is wrong (result code 2028): needs an operator",
)
CALLBACKS = Counter(
    "golive_callbacks_total",
    "STK callbacks received, by what became of them",
    ["status"],
)
CALLBACK_LAG = Histogram(
    "golive_callback_lag_seconds",
    "Time from a push being accepted by Daraja to its callback arriving",
    buckets=(1, 5, 10, 15, 20, 30, 45, 60, 120, 300, 600),
)
PAYMENTS_REFUSED = Counter(
    "golive_payments_refused_total",
    "Payment requests refused, by reason (payments_not_available is a deliberate rollout refusal, not an error)",
    ["reason"],
)
UNHANDLED_ERRORS = Counter(
    "golive_unhandled_errors_total",
    "Requests that raised an unhandled error (answered 500, or cut off if the answer had started), by route template",
    ["route"],
)
RATE_LIMITED = Counter("golive_rate_limited_total", "Requests refused with 429, by limit group", ["group"])

# The recovery worker (python -m app.worker). Gauges are the leader's census of the database; a worker that is not
# the leader reports none ("live" modes: a stopped process's values vanish from the multiprocess aggregate).
WORKER_LEADER = Gauge(
    "golive_worker_leader", "1 while this worker holds the leader lease, else 0", multiprocess_mode="livesum"
)
WORKER_LEASE_EVENTS = Counter(
    "golive_worker_lease_events_total", "Leader lease acquired, lost or released by this worker", ["event"]
)
SWEEP_RUNS = Counter("golive_worker_sweep_runs_total", "Sweep runs, by sweep", ["sweep"])
SWEEP_ERRORS = Counter("golive_worker_sweep_errors_total", "Sweep runs that raised, by sweep", ["sweep"])
SWEEP_ITEMS = Counter("golive_worker_sweep_items_total", "Items handled by sweeps, by sweep", ["sweep"])
SWEEP_DURATION = Histogram(
    "golive_worker_sweep_duration_seconds", "Time one sweep run took", ["sweep"], buckets=LATENCY_BUCKETS
)
STUCK_ITEMS = Gauge(
    "golive_recovery_stuck_items", "Payments stuck now, by reason (leader's census)", ["reason"],
    multiprocess_mode="livemax",
)  # fmt: skip
OLDEST_STUCK = Gauge(
    "golive_recovery_oldest_stuck_seconds", "Age of the oldest stuck payment (leader's census)",
    multiprocess_mode="livemax",
)  # fmt: skip
RECOVERIES = Counter(
    "golive_recoveries_total",
    "Recovery cases closed, by kind and resolution (recovered, escalated, resolved by a person)",
    ["kind", "resolution"],
)
STK_QUERIES = Counter(
    "golive_recovery_stk_queries_total",
    "STK Push Queries made by recovery, by answer (paid, failed, unknown, pending, error)",
    ["answer"],
)


def registry() -> CollectorRegistry:
    """Every process's samples (PROMETHEUS_MULTIPROC_DIR set), else this process's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        aggregate = CollectorRegistry()
        multiprocess.MultiProcessCollector(aggregate)
        return aggregate
    return REGISTRY


def render() -> tuple[bytes, str]:
    return generate_latest(registry()), CONTENT_TYPE_LATEST
