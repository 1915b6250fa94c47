"""Prometheus' HTTP API, only as much as the gates need: instant queries (GET /api/v1/query). Thin: the
questions are release/gates/promql.py's."""

from __future__ import annotations

import httpx

from release.gates.promql import instant_value


class PrometheusUnavailable(Exception):
    """Prometheus could not be asked, or answered with an error; the message says which and how."""


class Prometheus:
    def __init__(self, url: str, *, timeout: float = 5.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def query(self, expr: str, at: float | None = None) -> float | None:
        """The value of `expr` at unix time `at` (now when None); None when there is nothing to measure."""
        params = {"query": expr} if at is None else {"query": expr, "time": f"{at:.3f}"}
        try:
            response = httpx.get(f"{self.url}/api/v1/query", params=params, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise PrometheusUnavailable(f"no answer from {self.url} ({type(exc).__name__}: {exc})") from exc
        try:
            body = response.json()
        except ValueError:
            raise PrometheusUnavailable(f"{self.url} answered {response.status_code}, not JSON") from None
        if response.status_code != 200 or not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else None
            kind = body.get("errorType") if isinstance(body, dict) else None
            raise PrometheusUnavailable(f"{self.url} answered {response.status_code}: {kind or 'error'}: {error}")
        try:
            return instant_value(body.get("data"))
        except ValueError as exc:
            raise PrometheusUnavailable(f"{self.url} answered what is not one number ({exc})") from None

    def check(self) -> None:
        """Raises PrometheusUnavailable unless Prometheus answers a query."""
        if self.query("vector(1)") != 1.0:
            raise PrometheusUnavailable(f"{self.url} answered vector(1) with something other than 1")

    def values(self, queries: list[tuple[str, str]], at: float) -> dict[str, float | None]:
        return {name: self.query(expr, at) for name, expr in queries}
