"""fab lab.up / lab.down / lab.status — the multi-host lab (lab/README.md)."""

from __future__ import annotations

import sys

from invoke import Collection, task
from invoke.exceptions import Exit
from rich.console import Console

from foundation.reporter import Reporter
from lab import down as lab_down
from lab import status as lab_status
from lab import up as lab_up
from lab.errors import LabError
from lab.layout import Layout
from release.exit_codes import ExitCode


@task
def up(c) -> None:
    """Boot the lab: lb, web1, web2, db, partners, monitoring on 198.18.0.0/24 (root, Linux; idempotent).

    Builds the Debian 12 base image on first use (cached in /var/cache/golive-lab), then boots every host
    that is not running under systemd-nspawn and writes state/lab/ssh_config, state/lab/inventory.ini and
    state/lab/stack-outputs.json (the lab in the Pulumi stack outputs' schema: `fab release --env lab` reads it).
    """
    _run(lab_up.up)


@task
def down(c) -> None:
    """Take the lab down: hosts, overlays, namespaces, veths, bridge, keys. Safe to run twice."""
    _run(lab_down.down)


@task
def status(c) -> None:
    """One row per lab host: address, booted?, ssh?, nspawn PID."""
    _run(lab_status.status)


def _run(action) -> None:
    # Progress lines stay whole in logs and CI (rich wraps at 80 columns when not on a terminal).
    reporter = Reporter(Console(highlight=False, width=None if sys.stdout.isatty() else 160))
    try:
        action(Layout.default(), reporter)
    except LabError as exc:
        raise Exit(f"lab: {exc}", code=int(ExitCode.REFUSED)) from None


collection = Collection("lab", up, down, status)
