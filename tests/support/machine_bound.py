"""Deployment checks whose verdict, in a test run, measures this machine rather than the release under test: the
environments the tests release to (a throwaway local environment, the lab) run on the machine that runs the suite,
beside the suite's other workers, so a response time, a database query's p95, 20 concurrent requests or a load
average say how busy the machine is. The tests list them advisory: still run and reported (`fail (advisory)`), not
blocking a test's release. tests/checks proves each check passes and fails on its own, against real targets."""

from __future__ import annotations

from typing import Any

MACHINE_BOUND_CHECKS = ("hosts.cpu", "database.latency", "http.response_time", "http.concurrency")


def with_machine_bound_advisory(checks: dict[str, Any]) -> dict[str, Any]:
    """An environment's `checks:` section with the machine-bound checks added to its advisory list."""
    advisory = list(checks.get("advisory", []))
    advisory += [name for name in MACHINE_BOUND_CHECKS if name not in advisory]
    return {**checks, "advisory": advisory}
