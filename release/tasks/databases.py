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
        "discard-replaced": "over the live database: do not dump what it holds first (when that dump fails)",
    }
)
@exits
def restore(c, env=None, backup=None, into=None, discard_replaced=False) -> ExitCode:
    """Restore a backup over the live database (one transaction, what it held dumped first), or --into a new one.
    Exit codes: 0 restored, 1 the restore failed (the database is as it was), 2 refused (no such backup)."""
    return databases.restore(controller(env), backup, into, keep_replaced=not discard_replaced)
