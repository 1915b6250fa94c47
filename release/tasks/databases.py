"""fab backup / fab restore."""

from __future__ import annotations

from invoke import task
from invoke.exceptions import Exit

from foundation.backups import dumps as backups
from release.engine import Outcome, controller_identity
from release.tasks.context import engine_for


@task(help={"env": "target environment"})
def backup(c, env=None) -> None:
    """Take a backup (pg_dump -Fc + sha256) and prove it restores into a scratch database."""
    engine = engine_for(env)
    with engine.reporter.step("pg_dump -Fc"):
        taken = backups.take(engine.db_url, engine.state / engine.env.name / "backups")
    with engine.reporter.step("prove: restore into a scratch database, compare row counts"):
        counts = backups.prove(taken, engine.db_url)
    engine.reporter.line(f"backup {taken.id}: {taken.size} bytes, sha256 {taken.sha256}, {sum(counts.values())} rows")


@task(
    help={
        "env": "target environment",
        "backup": "backup id (see the backups folder or fab history)",
        "into": "restore into this new database instead of over the live one",
    }
)
def restore(c, env=None, backup=None, into=None) -> None:
    """Restore a backup over the live database (one transaction), or --into a new scratch database."""
    if not backup:
        raise Exit("--backup ID is required", code=int(Outcome.REFUSED))
    engine = engine_for(env)
    try:
        found = backups.find(engine.state / engine.env.name / "backups", backup)
    except backups.BackupNotFound as exc:
        raise Exit(str(exc), code=int(Outcome.REFUSED)) from None
    with engine.reporter.step(f"restore {found.id} {'into ' + into if into else 'over the live database'}"):
        backups.restore(found, engine.db_url, into=into)
    engine.audit.append(
        {
            "kind": "restore",
            "env": engine.env.name,
            "by": controller_identity(),
            "backup": {"id": found.id, "sha256": found.sha256},
            "into": into or "live",
        }
    )
