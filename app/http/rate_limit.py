"""Token-bucket rate limiting per client address and route group, held per worker process.

Per-process buckets cost nothing on the hot path; the fleet-wide limit is this times the worker count,
and the load balancer (nginx limit_req) enforces the edge limit in front of it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

MAX_TRACKED = 50_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, per_minute: int, burst: int):
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def check(self, client: str, group: str, now: float | None = None) -> int | None:
        """None when allowed, else the seconds to wait before the next request would be."""
        now = time.monotonic() if now is None else now
        key = (client, group)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED:
                self._evict(now)
            bucket = self._buckets[key] = _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / self._rate))

    def _evict(self, now: float) -> None:
        full_after = self._burst / self._rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.updated < full_after}
