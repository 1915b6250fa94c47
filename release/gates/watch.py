"""The gates' window as a release and each step of a rollout judge it: simulator payments through the entry point
where the environment has them (only payers a rollout admits), the figures from Prometheus or the instances'
/metrics (release/gates/sources.py), each gate's value and verdict said, and the window's verdict."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from foundation.environment import Environment
from foundation.metrics import gates
from foundation.reporter import Reporter
from release.gates.sources import Observation, observe_gates
from release.gates.synthetic import synthetic_payments


def watch(
    env: Environment, reporter: Reporter, instances: Sequence[str], *, admit: Callable[[str], bool] | None = None
) -> tuple[Observation, gates.Verdict]:
    """`instances`: every instance's URL (foundation/instance_endpoints.py), scraped where Prometheus is not used."""
    traffic = None
    if env.synthetic_traffic.enabled:

        def traffic(seconds: float) -> None:
            synthetic_payments(
                env.entry_url,
                duration=seconds,
                rate_per_second=env.synthetic_traffic.rate_per_second,
                admit=admit,
                verify=env.tls_verify,
            )

    observation = observe_gates(instances, env.gates, env.monitoring, traffic=traffic, progress=reporter.line)
    if observation.fallback:
        reporter.warn(f"gates judged from /metrics, not Prometheus: {observation.fallback}")
    for result in observation.results:
        reporter.line(f"{result.name}: {result.verdict} ({result.detail}) [{result.source}]")
    return observation, gates.verdict(observation.results)
