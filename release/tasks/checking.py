"""fab check / fab signoff — the deployment checklist as code (checks/)."""

from __future__ import annotations

from invoke import task

from checks.catalogue import PHASES
from release.exit_codes import ExitCode
from release.operations import checking
from release.tasks.context import controller, exits


@task(
    help={
        "env": "target environment: local, lab, staging, production",
        "phase": f"one of {', '.join(PHASES)}, or all",
    }
)
@exits
def check(c, env=None, phase=None) -> ExitCode:
    """Run a phase's checks: a table (pass / fail / could not check / needs sign-off / not applicable, with
    the evidence), JSON and Markdown reports under state/checks/<env>/. Exits 1 when a required check fails
    (or could not check, where the environment says `unverified: fail`)."""
    return checking.check(controller(env), phase)


@task(
    help={
        "env": "target environment",
        "item": "catalogue id of the box, e.g. pre-1-6 (see checks/catalogue.yml or fab check)",
        "by": "the person signing (a name, not a team)",
        "note": "what they looked at (a link, a ticket)",
        "release": "the release id or version it covers (default: the release held for sign-off); `any` for a box "
        "not tied to one release (refused for deploy and post-deploy boxes)",
        "valid-for": "how long it counts, e.g. 30m, 24h, 7d (default: the environment's checks.signoff_valid_for)",
        "revoke": "withdraw the standing sign-off of this item",
    }
)
@exits
def signoff(c, env=None, item=None, by=None, note="", release=None, valid_for=None, revoke=False) -> ExitCode:  # noqa: PLR0917 (fab options)
    """Record a person's sign-off of a checklist box in the environment's audit log, with the time: for one release,
    until it expires. An expired sign-off, or one for another release, does not count (the check says which)."""
    return checking.signoff(controller(env), item, by, note, release=release, valid_for=valid_for, revoke=revoke)
