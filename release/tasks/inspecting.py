"""fab status / fab history / fab unlock."""

from __future__ import annotations

from invoke import task

from release.exit_codes import ExitCode
from release.operations import inspecting
from release.tasks.context import controller, exits


@task(help={"env": "target environment"})
@exits
def status(c, env=None) -> ExitCode:
    """What runs where: current and previous release, each web host's (behind the fleet's?), a held release and what
    it waits for, every instance's health and version, the lock."""
    return inspecting.status(controller(env))


@task(help={"env": "target environment", "limit": "how many of the newest records to show (default 20)"})
@exits
def history(c, env=None, limit=20) -> ExitCode:
    """The audit log of releases and rollbacks, newest last; verifies the hash chain and says where it breaks."""
    return inspecting.history(controller(env), int(limit))


@task(
    help={
        "env": "target environment",
        "force": "required: breaking a lock is deliberate",
        "reason": "why (recorded in the audit log)",
    }
)
@exits
def unlock(c, env=None, force=False, reason=None) -> ExitCode:
    """Break the release lock of an environment (after a crashed release), recorded with your reason."""
    return inspecting.unlock(controller(env), reason, force=force)
