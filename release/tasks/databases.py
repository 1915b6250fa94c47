"""fab backup / fab restore."""

from __future__ import annotations

from invoke import task

from release.exit_codes import ExitCode
from release.operations import databases
from release.tasks.context import controller, exits


@task(help={"env": "target environment"})
@exits
def backup(c, env=None) -> ExitCode:
    """Take a backup (pg_dump -Fc + sha256) and prove it restores into a scratch database — where the environment's
    releases take theirs: on its backup_host (golive-backup) when it has one, else by this controller."""
    return databases.backup(controller(env))


@task(
    help={
        "env": "target environment",
        "backup": "backup id (see the backups folder or fab history)",
        "into": "restore into this new database instead of over the live one",
    }
)
@exits
def restore(c, env=None, backup=None, into=None) -> ExitCode:
    """Restore a backup this controller took over the live database (one transaction), or --into a new database."""
    return databases.restore(controller(env), backup, into)
