"""fab backup / fab restore."""

from __future__ import annotations

from invoke import task
from invoke.exceptions import Exit

from foundation.backups import dumps
from release.backups.on_host import HostBackupFailed
from release.engine import Outcome, controller_identity
from release.tasks.context import engine_for


@task(help={"env": "target environment"})
def backup(c, env=None) -> None:
    """Take a backup (pg_dump -Fc + sha256) where the environment keeps them, proven by a restore into a scratch
    database with every table's row count compared."""
    engine = engine_for(env)
    backups = engine.backups()
    with engine.reporter.step(f"backup {backups.where}: pg_dump -Fc, proven by a restore into a scratch database"):
        taken = backups.take()
    engine.reporter.line(taken.describe())


@task(
    help={
        "env": "target environment",
        "backup": "backup id (see the backups folder or fab history)",
        "into": "restore into this new database instead of over the live one",
        "discard_replaced": "over the live database: do not dump what it holds first (when that dump fails)",
    }
)
def restore(c, env=None, backup=None, into=None, discard_replaced=False) -> None:
    """Restore a backup over the live database (one transaction, what it held dumped first), or --into a new one."""
    if not backup:
        raise Exit("--backup ID is required", code=int(Outcome.REFUSED))
    engine = engine_for(env)
    backups = engine.backups()
    with engine.reporter.step(
        f"restore {backup} {backups.where} {'into ' + into if into else 'over the live database'}"
    ):
        try:
            restored = backups.restore(backup, into=into, keep_replaced=not discard_replaced)
        except dumps.BackupNotFound as exc:
            raise Exit(str(exc), code=int(Outcome.REFUSED)) from None
        except dumps.BackupUnusable as exc:
            raise Exit(f"not restored, the database is as it was: {exc}", code=1) from None
        except HostBackupFailed as exc:  # its message says what the host's golive-backup did
            raise Exit(str(exc), code=1) from None
    if restored.get("replaced"):
        engine.reporter.line(f"what it held before is kept as backup {restored['replaced']}")
    engine.audit.append(
        {
            "kind": "restore",
            "env": engine.env.name,
            "by": controller_identity(),
            "backup": {"id": restored["id"], "sha256": restored["sha256"]},
            "into": into or "live",
            "replaced": restored.get("replaced"),
        }
    )
