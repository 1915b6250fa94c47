"""fab local.up / fab local.down — the embedded local environment."""

from __future__ import annotations

from invoke import Collection, task

from release import local_env
from release.tasks.context import controller, exits


@task
@exits
def up(c) -> None:
    """Start the local environment (embedded PostgreSQL, Daraja simulator, supervisord); idempotent."""
    local = controller("local")
    local_env.up(local.env, progress=local.reporter.line)
    local.reporter.line("local environment up (the service starts with the first release: fab release --env local)")


@task
@exits
def down(c) -> None:
    """Stop everything the local environment runs; nothing is left behind."""
    local = controller("local")
    local_env.down(local.env, progress=local.reporter.line)
    local.reporter.line("local environment down")


collection = Collection("local", up, down)
