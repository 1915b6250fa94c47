"""fab flags / fab rollout — feature flags, and a gradual rollout with gates between steps."""

from __future__ import annotations

from invoke import task

from release.exit_codes import ExitCode, Refused
from release.operations import flags as flag_operations
from release.tasks.context import controller, exits


@task(
    help={
        "env": "target environment",
        "feature": "flag name, e.g. mpesa_payments",
        "enabled": "turn it on",
        "disabled": "turn it off",
        "percentage": "share of payers (0-100); omitted keeps the current share",
    }
)
@exits
def flags(c, env=None, feature=None, enabled=False, disabled=False, percentage=None) -> ExitCode:  # noqa: PLR0917 (fab flags)
    """Show a flag, or set it: fab flags --env local --feature mpesa_payments --enabled --percentage 10
    (or --disabled). Without --enabled/--disabled it only shows the flag."""
    if feature is None:
        raise Refused("--feature is required")
    if enabled and disabled:
        raise Refused("--enabled and --disabled contradict each other")
    target = controller(env)
    if not enabled and not disabled:
        return flag_operations.show(target, feature)
    if percentage is not None and not str(percentage).isdigit():
        raise Refused(f"--percentage is a whole number from 0 to 100, not {percentage!r}")
    share = None if percentage is None else int(percentage)
    return flag_operations.set_flag(target, feature, enabled=enabled, percentage=share)


@task(help={"env": "target environment", "feature": "flag to roll out (default mpesa_payments)"})
@exits
def rollout(c, env=None, feature="mpesa_payments") -> ExitCode:
    """Step a flag 10 -> 50 -> 100 % with the release's gate analysis between steps; a failed gate turns it off.

    Exit codes: 0 fully rolled out, 1 a gate failed (flag turned off), 3 held at the last good step (inconclusive).
    """
    return flag_operations.rollout(controller(env), feature)
