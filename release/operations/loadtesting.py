"""A bounded, headless Locust run against an environment's entry point, held to its SLO, recorded in the audit log."""

from __future__ import annotations

import dataclasses

from release.controller import Controller
from release.exit_codes import ExitCode, Refused
from release.gates import loadtest as loadtest_gate
from release.run import controller_identity


def loadtest(controller: Controller, **overrides: str | None) -> ExitCode:
    """`overrides`: users, duration, spawn_rate, workers, slo_file (command-line strings or None).
    Exit codes: 0 every SLO threshold passed, 1 a threshold failed, 2 could not run."""
    env, state = controller.env, controller.state
    try:
        spec = loadtest_gate.spec_for(env, **overrides)
        loadtest_gate.ensure_running(env)
        spec = dataclasses.replace(spec, admin_key=loadtest_gate.resolve_admin_key(env, state))
        controller.reporter.title(f"load test of {env.name} ({env.entry_url})")
        result = loadtest_gate.run(spec, state, controller.reporter)
    except loadtest_gate.LoadTestError as exc:
        raise Refused(f"loadtest refused: {exc}") from None
    controller.audit.append(
        {"kind": "loadtest", "env": env.name, "by": controller_identity(), "loadtest": result.audit()}
    )
    return ExitCode.OK if result.passed else ExitCode.FAILED
