"""Feature flags through the service's admin API, and a gradual rollout: 10 -> 50 -> 100 % with the release's
gate window (release/gates/watch.py) judged after each step; a failed gate turns the flag off."""

from __future__ import annotations

from typing import Any

from app.contract import Flag, allows
from foundation.admin_client import AdminKeyMissing, FlagClient, admin_key
from release.controller import Controller
from release.exit_codes import ExitCode, Refused
from release.gates.watch import watch
from release.run import controller_identity

ROLLOUT_STEPS = (10, 50, 100)


def client(controller: Controller) -> FlagClient:
    try:
        key = admin_key(controller.env, controller.db_url, controller.state)
    except AdminKeyMissing as exc:
        raise Refused(str(exc)) from None
    return FlagClient(controller.env.entry_url, key, verify=controller.env.tls_verify)


def show(controller: Controller, feature: str) -> ExitCode:
    controller.reporter.line(str(client(controller).get(feature)))
    return ExitCode.OK


def set_flag(controller: Controller, feature: str, *, enabled: bool, percentage: int | None) -> ExitCode:
    flag = client(controller).set(feature, enabled=enabled, percentage=percentage)
    controller.audit.append({"kind": "flag", "env": controller.env.name, "by": controller_identity(), "flag": flag})
    controller.reporter.line(f"{flag['feature']}: enabled={flag['enabled']} percentage={flag['percentage']}")
    return ExitCode.OK


def rollout(controller: Controller, feature: str) -> ExitCode:
    """Exit codes: 0 fully rolled out, 1 a gate failed (the flag turned off), 3 held at the last good step."""
    flags, reporter = client(controller), controller.reporter
    record: dict[str, Any] = {
        "kind": "rollout",
        "env": controller.env.name,
        "by": controller_identity(),
        "feature": feature,
        "steps": [],
    }
    code = ExitCode.OK
    with controller.fleet.endpoints as endpoints:
        instances = endpoints.urls()
        for percentage in ROLLOUT_STEPS:
            with reporter.phase(f"{feature} at {percentage} %"):
                flags.set(feature, enabled=True, percentage=percentage)
                cohort = Flag(feature, True, percentage)
                # Simulator payers inside the rollout only, so each step's gates see the cohort it enabled.
                observation, verdict = watch(
                    controller.env, reporter, instances, admit=lambda msisdn, c=cohort: allows(c, msisdn)
                )
                step = {"percentage": percentage, "verdict": verdict, "gate_source": observation.source}
                if observation.fallback:
                    step["gate_fallback"] = observation.fallback
                record["steps"].append(step)
            if verdict == "fail":
                flags.set(feature, enabled=False)
                reporter.error(f"gate failed at {percentage} %: {feature} turned off")
                code = ExitCode.FAILED
                break
            if verdict == "inconclusive":
                reporter.warn(f"gates inconclusive at {percentage} %: held there for a person")
                code = ExitCode.HELD
                break
    record["outcome"] = {ExitCode.OK: "rolled out", ExitCode.FAILED: "turned off"}.get(code, "held")
    controller.audit.append(record)
    reporter.summary(record["outcome"])
    return code
