"""Steps on the database: the pre-migration backup (taken by the controller and proven here, or taken and proven
on the db host), the migration, and — when a release that applied an irreversible revision is undone — the
backup restored over the live database."""

from __future__ import annotations

import psycopg

from foundation import host_commands
from foundation.backups import dumps as backups
from release.backups import on_host
from release.build import migrations
from release.plan import Step
from release.run import Run, StepContext


def backup(engine: StepContext, step: Step, run: Run) -> None:
    if step.host is not None:
        taken = on_host.take(engine.transport(step))
        engine.reporter.line(
            f"backup {taken.id} on {step.host}: {taken.size / 1e3:.0f} kB, sha256 {taken.sha256[:16]}…, "
            f"{taken.tables} tables, {taken.rows} rows restored and counted"
        )
        run.record["backup"] = taken.record()
    else:
        taken = backups.take(engine.db_url, engine.state.backups(engine.env.name))
        engine.reporter.line(f"backup {taken.id}: {taken.size / 1e3:.0f} kB, sha256 {taken.sha256[:16]}…")
    run.backup = taken  # the audit record names it once it is proven


def prove(engine: StepContext, step: Step, run: Run) -> None:
    if not isinstance(run.backup, backups.Backup):
        raise RuntimeError("no controller backup to prove: the plan proves before it backs up")
    counts = backups.prove(run.backup, engine.db_url)
    run.record["backup"] = {"id": run.backup.id, "sha256": run.backup.sha256, "rows": sum(counts.values())}


def migrate(engine: StepContext, step: Step, run: Run) -> None:
    assert step.target is not None
    with engine.connect() as conn:
        run.record["schema_before"] = schema_revision(conn)
    command = host_commands.migrate(engine.fleet.layout, step.target)
    output = engine.transport(step).run(command, timeout=900).output.strip()
    engine.reporter.line(output.splitlines()[-1] if output else "")
    with engine.connect() as conn:
        run.record["schema_after"] = schema_revision(conn)
    applied = (
        migrations.applied_between(
            migrations.revisions(run.artifact.path), run.record["schema_before"], run.record["schema_after"]
        )
        if run.artifact
        else []
    )
    run.record["irreversible"] = [revision.revision for revision in applied if revision.irreversible]


def restore(engine: StepContext, step: Step, run: Run) -> None:
    if isinstance(run.backup, on_host.HostBackup):
        on_host.restore(engine.fleet.transports[run.backup.host], run.backup)
    else:
        backups.restore(run.backup, engine.db_url)
    run.record["database_restored"] = run.backup.id


def schema_revision(conn: psycopg.Connection) -> str | None:
    exists = conn.execute("SELECT to_regclass('public.alembic_version')").fetchone()
    if exists is None or exists[0] is None:
        return None
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None
