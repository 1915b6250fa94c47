"""Feature flags: the flag system answers (admin API, the release tooling's key), each flag is in the
state the environment expects (`checks: expected_flags:`), and the gradual rollout's steps passed
(`fab rollout` records each step's gate verdict in the audit log)."""

from __future__ import annotations

from typing import Any

from checks.calls import admin_headers, request
from checks.context import Context
from checks.model import Result, failed, passed, unverified
from checks.registry import check


@check("flags.expected")
def expected(ctx: Context, args: dict[str, Any]) -> Result:
    path = "/api/admin/feature-flags"
    command = f"curl -H 'x-api-key: <release tooling key>' {ctx.entry}{path}"
    answer = request(ctx, "GET", path, headers=admin_headers(ctx, command), command=command)
    if answer.status_code != 200:
        return failed(f"the flag system answered {answer.status_code}", command)
    flags = {flag["feature"]: flag for flag in answer.json()}
    shown = ", ".join(f"{name} {'on' if f['enabled'] else 'off'} {f['percentage']} %" for name, f in flags.items())
    problems = []
    for name, wanted in ctx.config["expected_flags"].items():
        actual = flags.get(name)
        if actual is None:
            problems.append(f"{name} is not set")
            continue
        for key, value in wanted.items():
            if actual.get(key) != value:
                problems.append(f"{name}.{key} is {actual.get(key)!r}, expected {value!r}")
    if problems:
        return failed("; ".join(problems) + f" (now: {shown or 'no flags'})", command)
    expectation = "as expected" if ctx.config["expected_flags"] else "no expected state configured"
    return passed(f"flag system answers: {shown or 'no flags set'} ({expectation})", command)


@check("flags.rollout_step")
def rollout_step(ctx: Context, args: dict[str, Any]) -> Result:
    """A `fab rollout` reached `percentage` with passing gates (args: percentage, feature)."""
    percentage, feature = int(args["percentage"]), args.get("feature", "mpesa_payments")
    command = f"kind=rollout records of {ctx.audit.path} for {feature}"
    for entry in reversed(ctx.audit.entries()):
        if entry.get("kind") != "rollout" or entry.get("feature") != feature:
            continue
        step = next((s for s in entry.get("steps", []) if s.get("percentage") == percentage), None)
        if step is None:
            return failed(f"the last rollout of {feature} ({entry['at'][:19]}) stopped before {percentage} %", command)
        if step.get("verdict") != "pass":
            return failed(f"{feature} at {percentage} %: gates {step.get('verdict')} ({entry['at'][:19]})", command)
        return passed(f"{feature} at {percentage} %: gates passed ({entry['at'][:19]}, by {entry.get('by')})", command)
    return unverified(f"no rollout of {feature} recorded: `fab rollout --env {ctx.env.name}`", command)
