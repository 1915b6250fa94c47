"""The release gates' questions to Prometheus, as PromQL, and the reading of its answers — pure: no I/O.

Over a window of W seconds ending at the query's evaluation time, for the service's scrape job:
- requests:        API answers (not the routes EXCLUDED_ROUTES names: probes and scrapes are not traffic) — the sample
                   count of the error-rate and latency gates
- server_errors:   5xx answers less deliberate refusals (a payer outside a rollout gets 503 on purpose), as the
                   /metrics path counts them (foundation/metrics/text.py)
- error_rate:      server_errors / requests
- p95_latency:     histogram_quantile(0.95) over the API requests' latency buckets
- settled, paid:   payments that became paid or failed, and paid — settled is the payment gate's sample count
- payment_success: paid / settled
increase() extrapolates to the window's edges, so counts may be fractional; a series born inside the window
(the first 5xx of a route, say) loses its first increment, as everywhere in Prometheus.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from foundation.metrics.text import DELIBERATE_REFUSALS, EXCLUDED_ROUTES, HTTP_HISTOGRAM, PAYMENT_TRANSITIONS, REFUSALS
from foundation.sections import JOB_NAME


@dataclass(frozen=True)
class GateQueries:
    requests: str
    server_errors: str
    error_rate: str
    p95_latency: str
    settled: str
    paid: str
    payment_success: str

    def items(self) -> list[tuple[str, str]]:
        return [(field.name, getattr(self, field.name)) for field in fields(self)]


def range_selector(seconds: float) -> str:
    """A window as PromQL's range: whole seconds, rounded up (at least 1 s)."""
    if not seconds > 0 or math.isinf(seconds):
        raise ValueError(f"a window must be a positive number of seconds, not {seconds!r}")
    return f"[{max(1, math.ceil(seconds))}s]"


def gate_queries(window_seconds: float, job: str) -> GateQueries:
    if not JOB_NAME.fullmatch(job):
        raise ValueError(f"a Prometheus job name of letters, digits and _ . : - (at most 100), not {job!r}")
    window = range_selector(window_seconds)
    routes = "|".join(sorted(EXCLUDED_ROUTES))
    api = f'job="{job}",route!~"{routes}"'
    refusals = "|".join(DELIBERATE_REFUSALS)

    requests = f"sum(increase({HTTP_HISTOGRAM}_count{{{api}}}{window}))"
    answered_5xx = f'sum(increase({HTTP_HISTOGRAM}_count{{{api},status=~"5.."}}{window}))'
    deliberate = f'sum(increase({REFUSALS}{{job="{job}",reason=~"{refusals}"}}{window}))'
    server_errors = f"clamp_min(({answered_5xx} or vector(0)) - ({deliberate} or vector(0)), 0)"
    settled = f'sum(increase({PAYMENT_TRANSITIONS}{{job="{job}",state=~"paid|failed"}}{window}))'
    paid = f'sum(increase({PAYMENT_TRANSITIONS}{{job="{job}",state="paid"}}{window}))'
    return GateQueries(
        requests=requests,
        server_errors=server_errors,
        error_rate=f"{server_errors} / {requests}",
        p95_latency=f"histogram_quantile(0.95, sum by (le) (increase({HTTP_HISTOGRAM}_bucket{{{api}}}{window})))",
        settled=settled,
        paid=paid,
        payment_success=f"({paid} or vector(0)) / {settled}",
    )


def instant_value(data: Any) -> float | None:
    """The one number of an instant query's `data` (/api/v1/query): None for no series or NaN (nothing to
    measure). Raises ValueError for anything else (a range, several series, a string)."""
    if not isinstance(data, dict):
        raise ValueError("no data in the answer")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        point = result
    elif kind == "vector" and isinstance(result, list):
        if not result:
            return None
        if len(result) > 1:
            raise ValueError(f"{len(result)} series where one was expected")
        point = result[0].get("value") if isinstance(result[0], dict) else None
    else:
        raise ValueError(f"a {kind} result where a number was expected")
    if not isinstance(point, list) or len(point) != 2:
        raise ValueError(f"not a [time, value] pair: {point!r}")
    value = float(point[1])
    return None if math.isnan(value) else value
