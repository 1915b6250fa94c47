"""The deployment checklist on demand (`fab check`), and a person's sign-off of a box (`fab signoff`)."""

from __future__ import annotations

from checks import phases, registry, signoffs
from checks.catalogue import PHASES, load, share
from checks.report import print_run
from release.controller import Controller
from release.database import DatabaseUnreachable
from release.exit_codes import ExitCode, Refused


def check(controller: Controller, phase: str | None) -> ExitCode:
    """A phase's checks: a table with the evidence, JSON and Markdown reports in the state folder. Exit 1 when a
    required check fails (or could not check, where the environment says `unverified: fail`)."""
    if phase not in (*PHASES, "all"):
        raise Refused(f"unknown phase {phase!r}: --phase is one of {', '.join(PHASES)}, all")
    env, reporter = controller.env, controller.reporter
    try:
        db_url: str | None = controller.db_url
    except DatabaseUnreachable as exc:
        reporter.warn(f"no database: {exc} (checks that need it say 'could not check')")
        db_url = None
    reporter.title(f"checks: {env.name}, {phase}")
    try:
        run, _, paths = phases.run(
            env, db_url, phase, repo=controller.repo, state=controller.state,
            progress=phases.progress_line(reporter.line),
        )  # fmt: skip
    except ValueError as exc:
        raise Refused(str(exc)) from None
    print_run(reporter.console, run, share(load()), paths)
    return ExitCode.FAILED if run.blocking else ExitCode.OK


def signoff(controller: Controller, item: str | None, by: str | None, note: str = "", *, revoke: bool) -> ExitCode:
    """A person's sign-off of a checklist box, in the environment's audit log with the time."""
    items = {entry.id: entry for entry in load(known_checks=set(registry.load()))}
    if not item or item not in items:
        raise Refused(f"--item must be a catalogue id (e.g. pre-1-6); got {item!r}")
    if not by:
        raise Refused("--by NAME is required: a sign-off names the person")
    chosen = items[item]
    if chosen.not_applicable:
        raise Refused(f"{item} does not apply to this service ({chosen.not_applicable})")
    entry = signoffs.record(controller.audit, controller.env.name, chosen, by, note, revoke=revoke)
    what = "revoked" if revoke else "signed off"
    reporter = controller.reporter
    reporter.line(f"{item} ({chosen.text}) {what} by {entry['by']} at {entry['at']} [audit #{entry['seq']}]")
    if chosen.check and not revoke:
        reporter.warn(f"{item} is automated ({chosen.check}): the sign-off counts only where the check asks for one")
    return ExitCode.OK
