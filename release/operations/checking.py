"""The deployment checklist on demand (`fab check`), and a person's sign-off of a box (`fab signoff`)."""

from __future__ import annotations

from checks import config, phases, registry, signoffs
from checks.catalogue import PHASES, load, share
from checks.report import print_run
from foundation.holds import held_release
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


def signoff(
    controller: Controller,
    item: str | None,
    by: str | None,
    note: str = "",
    *,
    release: str | None = None,
    valid_for: str | None = None,
    revoke: bool,
) -> ExitCode:
    """A person's sign-off of a checklist box, in the environment's audit log with the time: for `release` (default:
    the release held for a person), valid for `valid_for` (default: the environment's checks.signoff_valid_for)."""
    items = {entry.id: entry for entry in load(known_checks=set(registry.load()))}
    if not item or item not in items:
        raise Refused(f"--item must be a catalogue id (e.g. pre-1-6); got {item!r}")
    if not by:
        raise Refused("--by NAME is required: a sign-off names the person")
    chosen = items[item]
    if chosen.not_applicable:
        raise Refused(f"{item} does not apply to this service ({chosen.not_applicable})")
    held = held_release(controller.audit)
    release = release or (held or {}).get("release_id")
    try:
        lifetime = signoffs.parse_duration(valid_for) if valid_for else None
    except ValueError as exc:
        raise Refused(f"--valid-for: {exc}") from None
    try:
        lifetime = lifetime or signoffs.parse_duration(config.merged(controller.env.checks)["signoff_valid_for"])
        entry = signoffs.record(
            controller.audit, controller.env.name, chosen, by, note, release=release, valid_for=lifetime, revoke=revoke
        )
    except ValueError as exc:
        raise Refused(str(exc)) from None
    reporter = controller.reporter
    if revoke:
        reporter.line(f"{item} ({chosen.text}) revoked by {entry['by']} at {entry['at']} [audit #{entry['seq']}]")
        return ExitCode.OK
    reporter.line(
        f"{item} ({chosen.text}) signed off by {entry['by']} for release {entry['release']} at {entry['at'][:19]}Z, "
        f"valid until {entry['expires'][:19]}Z [audit #{entry['seq']}]"
    )
    if held and release not in (held.get("release_id"), held.get("version"), signoffs.ANY):
        reporter.warn(f"release {held['release_id']} is held for sign-off: this sign-off does not count for it")
    if chosen.check:
        reporter.warn(f"{item} is automated ({chosen.check}): the sign-off counts only where the check asks for one")
    return ExitCode.OK
