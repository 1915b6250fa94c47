"""Chain RPC metrics (registered with the rest; multiprocess-safe like app.metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from app.metrics import LATENCY_BUCKETS

RPC_DURATION = Histogram(
    "golive_chain_rpc_duration_seconds",
    "Chain JSON-RPC call latency by method and outcome (ok, error, unavailable)",
    ["method", "outcome"],
    buckets=LATENCY_BUCKETS,
)
RPC_ERRORS = Counter(
    "golive_chain_rpc_errors_total",
    "Chain JSON-RPC calls that failed, by method and kind (rpc_error, http_NNN, timeout, connect_error, bad_answer)",
    ["method", "kind"],
)
# Set by GET /api/blockchain/health and by the worker once per loop. "mostrecent": across the processes of one
# host the newest reading wins (a web process that last asked an hour ago does not mask the worker's).
CHAIN_HEAD_AGE = Gauge(
    "golive_chain_head_age_seconds",
    "Seconds since the timestamp of the newest head block this process has read (grows while the chain cannot be read)",
    multiprocess_mode="mostrecent",
)
