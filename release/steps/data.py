"""Steps on the database: the pre-migration backup (where the environment takes them: foundation/backups/strategy.py),
the migration, and — when a release that applied an irreversible revision is undone — that backup restored over the
live database."""

from __future__ import annotations

import psycopg

from foundation import host_commands
from release.build import migrations
from release.plan import Step
from release.run import Run, StepContext


def backup(engine: StepContext, step: Step, run: Run) -> None:
    taken = engine.backups().take()
    engine.reporter.line(taken.describe())
    run.record["backup"] = taken.record()
    run.backup = taken


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
    if run.backup is None:
        raise RuntimeError("no backup of this release to restore")
    restored = engine.backups().restore(run.backup.id, sha256=run.backup.sha256)
    run.record["database_restored"] = run.backup.id
    run.record["database_replaced"] = restored.get("replaced")  # a backup of what the restore replaced


def schema_revision(conn: psycopg.Connection) -> str | None:
    exists = conn.execute("SELECT to_regclass('public.alembic_version')").fetchone()
    if exists is None or exists[0] is None:
        return None
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None
