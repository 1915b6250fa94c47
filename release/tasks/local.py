"""fab local.up / fab local.down — the embedded local environment."""

from __future__ import annotations

from invoke import Collection, task

from foundation.reporter import Reporter
from release import local_env
from release.tasks.context import environment


@task
def up(c) -> None:
    """Start the local environment (embedded PostgreSQL, Daraja simulator, supervisord); idempotent."""
    reporter = Reporter()
    local_env.up(environment("local"), progress=reporter.line)
    reporter.line("local environment up (the service starts with the first release: fab release --env local)")


@task
def down(c) -> None:
    """Stop everything the local environment runs; nothing is left behind."""
    reporter = Reporter()
    local_env.down(environment("local"), progress=reporter.line)
    reporter.line("local environment down")


collection = Collection("local", up, down)
