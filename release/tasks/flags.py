"""fab flags / fab rollout — feature flags, and a gradual rollout with gates between steps."""

from __future__ import annotations

from invoke import task
from invoke.exceptions import Exit

from app.contract import Flag, allows
from foundation.admin_client import AdminKeyMissing, FlagClient, admin_key
from foundation.metrics import gates
from release.engine import Outcome, controller_identity
from release.gates import sources as gate_sources
from release.gates.synthetic import synthetic_payments
from release.tasks.context import engine_for, exits

ROLLOUT_STEPS = (10, 50, 100)


def _client(engine) -> FlagClient:
    try:
        key = admin_key(engine.env, engine.db_url, engine.state)
    except AdminKeyMissing as exc:
        raise Exit(str(exc), code=int(Outcome.REFUSED)) from None
    return FlagClient(engine.env.entry_url, key, verify=engine.env.tls_verify)


@task(
    help={
        "env": "target environment",
        "feature": "flag name, e.g. mpesa_payments",
        "enabled": "turn it on",
        "disabled": "turn it off",
        "percentage": "share of payers (0-100); omitted keeps the current share",
    }
)
def flags(c, env=None, feature=None, enabled=False, disabled=False, percentage=None) -> None:  # noqa: PLR0917 (fab flags)
    """Show a flag, or set it: fab flags --env local --feature mpesa_payments --enabled --percentage 10
    (or --disabled). Without --enabled/--disabled it only shows the flag."""
    engine = engine_for(env)
    client = _client(engine)
    if feature is None:
        raise Exit("--feature is required", code=int(Outcome.REFUSED))
    if enabled and disabled:
        raise Exit("--enabled and --disabled contradict each other", code=int(Outcome.REFUSED))
    if not enabled and not disabled:
        engine.reporter.line(str(client.get(feature)))
        return
    flag = client.set(feature, enabled=enabled, percentage=None if percentage is None else int(percentage))
    engine.audit.append({"kind": "flag", "env": engine.env.name, "by": controller_identity(), "flag": flag})
    engine.reporter.line(f"{flag['feature']}: enabled={flag['enabled']} percentage={flag['percentage']}")


def _synthetic(env, feature: str, percentage: int):
    """Simulator payers inside the rollout, so each step's gates see the cohort it enabled."""
    if not env.synthetic_traffic.enabled:
        return None
    rate = env.synthetic_traffic.rate_per_second
    flag = Flag(feature, True, percentage)
    return lambda seconds: synthetic_payments(
        env.entry_url,
        duration=seconds,
        rate_per_second=rate,
        admit=lambda msisdn: allows(flag, msisdn),
        verify=env.tls_verify,
    )


@task(help={"env": "target environment", "feature": "flag to roll out (default mpesa_payments)"})
@exits
def rollout(c, env=None, feature="mpesa_payments") -> Outcome:
    """Step a flag 10 -> 50 -> 100 % with the release's gate analysis between steps; a failed gate turns it off.

    Exit codes: 0 fully rolled out, 1 a gate failed (flag turned off), 3 held at the last good step (inconclusive).
    """
    engine = engine_for(env)
    client = _client(engine)
    thresholds = engine.env.gates
    record = {"kind": "rollout", "env": engine.env.name, "by": controller_identity(), "feature": feature, "steps": []}
    outcome = Outcome.RELEASED
    for percentage in ROLLOUT_STEPS:
        with engine.reporter.phase(f"{feature} at {percentage} %"):
            client.set(feature, enabled=True, percentage=percentage)
            traffic = _synthetic(engine.env, feature, percentage)
            observation = gate_sources.observe_gates(
                engine.env.instance_urls(),
                thresholds,
                engine.env.monitoring,
                traffic=traffic,
                progress=engine.reporter.line,
            )
            results = observation.results
            verdict = gates.verdict(results)
            if observation.fallback:
                engine.reporter.warn(f"gates judged from /metrics, not Prometheus: {observation.fallback}")
            for result in results:
                engine.reporter.line(f"{result.name}: {result.verdict} ({result.detail}) [{result.source}]")
            step = {"percentage": percentage, "verdict": verdict, "gate_source": observation.source}
            if observation.fallback:
                step["gate_fallback"] = observation.fallback
            record["steps"].append(step)
        if verdict == "fail":
            client.set(feature, enabled=False)
            engine.reporter.error(f"gate failed at {percentage} %: {feature} turned off")
            outcome = Outcome.ROLLED_BACK
            break
        if verdict == "inconclusive":
            engine.reporter.warn(f"gates inconclusive at {percentage} %: held there for a person")
            outcome = Outcome.HELD
            break
    record["outcome"] = {Outcome.RELEASED: "rolled out", Outcome.ROLLED_BACK: "turned off"}.get(outcome, "held")
    engine.audit.append(record)
    engine.reporter.summary(record["outcome"])
    return outcome
