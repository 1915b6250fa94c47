"""fab check / fab signoff — the deployment checklist as code (checks/)."""

from __future__ import annotations

from invoke import task
from invoke.exceptions import Exit

from checks import phases, registry, signoffs
from checks.catalogue import PHASES, load, share
from checks.report import print_run
from foundation.audit import AuditLog
from foundation.reporter import Reporter
from release.engine import Outcome
from release.tasks.context import database_url, environment


@task(
    help={
        "env": "target environment: local, lab, staging, production",
        "phase": f"one of {', '.join(PHASES)}, or all",
    }
)
def check(c, env=None, phase=None) -> None:
    """Run a phase's checks: a table (pass / fail / could not check / needs sign-off / not applicable, with
    the evidence), JSON and Markdown reports under state/checks/<env>/. Exits 1 when a required check fails
    (or could not check, where the environment says `unverified: fail`)."""
    if phase not in (*PHASES, "all"):
        raise Exit(f"unknown phase {phase!r}: --phase is one of {', '.join(PHASES)}, all", code=int(Outcome.REFUSED))
    target = environment(env)
    reporter = Reporter()
    try:
        db_url = database_url(target, reporter)
    except Exit as exc:
        reporter.warn(f"no database: {exc.message} (checks that need it say 'could not check')")
        db_url = None
    reporter.title(f"checks: {target.name}, {phase}")
    try:
        run, _, paths = phases.run(target, db_url, phase, progress=phases.progress_line(reporter.line))
    except ValueError as exc:
        raise Exit(str(exc), code=int(Outcome.REFUSED)) from None
    print_run(reporter.console, run, share(load()), paths)
    if run.blocking:
        raise Exit(code=1)


@task(
    help={
        "env": "target environment",
        "item": "catalogue id of the box, e.g. pre-1-6 (see checks/catalogue.yml or fab check)",
        "by": "the person signing (a name, not a team)",
        "note": "what they looked at (a link, a ticket)",
        "revoke": "withdraw the standing sign-off of this item",
    }
)
def signoff(c, env=None, item=None, by=None, note="", revoke=False) -> None:  # noqa: PLR0917 (fab options)
    """Record a person's sign-off of a checklist box in the environment's audit log, with the time."""
    target = environment(env)
    items = {entry.id: entry for entry in load(known_checks=set(registry.load()))}
    if not item or item not in items:
        raise Exit(f"--item must be a catalogue id (e.g. pre-1-6); got {item!r}", code=int(Outcome.REFUSED))
    if not by:
        raise Exit("--by NAME is required: a sign-off names the person", code=int(Outcome.REFUSED))
    chosen = items[item]
    if chosen.not_applicable:
        raise Exit(f"{item} does not apply to this service ({chosen.not_applicable})", code=int(Outcome.REFUSED))
    audit = AuditLog(phases.state_dir() / target.name / "audit.jsonl")
    entry = signoffs.record(audit, target.name, chosen, by, note, revoke=revoke)
    what = "revoked" if revoke else "signed off"
    Reporter().line(f"{item} ({chosen.text}) {what} by {entry['by']} at {entry['at']} [audit #{entry['seq']}]")
    if chosen.check and not revoke:
        Reporter().warn(f"{item} is automated ({chosen.check}): the sign-off counts only where the check asks for one")
