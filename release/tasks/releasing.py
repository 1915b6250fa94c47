"""fab release / fab rollback."""

from __future__ import annotations

from invoke import task

from release.exit_codes import ExitCode
from release.tasks.context import controller, exits


@task(
    help={
        "env": "target environment: local, lab, staging, production",
        "version": "git ref to release (tag, branch, sha); default: the working tree",
        "dry-run": "print the plan (exactly the steps a release runs) and change nothing",
    }
)
@exits
def release(c, env=None, version=None, dry_run=False) -> ExitCode:
    """Release a version: preflight -> build -> stage -> backup -> migrate -> deploy -> verify -> gates.

    Exit codes: 0 released (or already deployed), 1 rolled back, 2 refused before any change, 3 held for a person.
    """
    return controller(env).engine.release(version, dry_run=dry_run)


@task(
    help={
        "env": "target environment",
        "to": "release id to return to (default: the previous release; see fab status)",
        "reason": "why, for the audit log",
        "no-drain": "switch every host at once without taking it out of the balancer first (when the balancer "
        "cannot be driven); requests may fail while the instances restart",
    }
)
@exits
def rollback(c, env=None, to=None, reason="emergency rollback", no_drain=False) -> ExitCode:
    """Return every host to the previous release (or --to RELEASE): the emergency path, in seconds.

    Host by host out of the balancer while it restarts, as a release goes (a host a dead release left drained
    goes first). Exit codes: 0 rolled back (or already there), 1 the rollback failed (read the output, then
    fab status), 2 refused (nothing changed).
    """
    return controller(env).engine.rollback(to, reason=reason, drain=not no_drain)


@task(help={"env": "target environment"})
@exits
def promote(c, env=None) -> ExitCode:
    """Finish the release held for a person (fab history shows it): its held checks run again and, once every box
    is signed (fab signoff), whatever was left of the release (gates, finish).

    Exit codes: 0 released, 1 a check or gate failed and the fleet rolled back, 2 refused (nothing is held),
    3 still held (the boxes still unsigned are named).
    """
    return controller(env).engine.promote()
