"""A proven backup where the environment's releases take theirs (its db host, or this controller), and a restore
of one of them (foundation/backups/strategy.py)."""

from __future__ import annotations

from foundation.backups import dumps
from foundation.backups.on_host import HostBackupFailed
from release.controller import Controller
from release.exit_codes import ExitCode, Refused
from release.run import controller_identity


def backup(controller: Controller) -> ExitCode:
    backups = controller.engine.backups()
    with controller.reporter.step(f"backup {backups.where}: pg_dump -Fc, proven by a restore into a scratch database"):
        taken = backups.take()
    controller.reporter.line(taken.describe())
    controller.audit.append(
        {"kind": "backup", "env": controller.env.name, "by": controller_identity(), "backup": taken.record()}
    )
    return ExitCode.OK


def restore(controller: Controller, backup_id: str | None, into: str | None, *, keep_replaced: bool) -> ExitCode:
    """Over the live database in one transaction (what it held dumped first, unless not `keep_replaced`), or
    into a new database. Exit 1 when the restore itself failed (the database is as it was)."""
    if not backup_id:
        raise Refused("--backup ID is required")
    backups, reporter = controller.engine.backups(), controller.reporter
    with reporter.step(f"restore {backup_id} {backups.where} {'into ' + into if into else 'over the live database'}"):
        try:
            restored = backups.restore(backup_id, into=into, keep_replaced=keep_replaced)
        except dumps.BackupNotFound as exc:
            raise Refused(str(exc)) from None
        except dumps.BackupUnusable as exc:
            reporter.error(f"not restored, the database is as it was: {exc}")
            return ExitCode.FAILED
        except HostBackupFailed as exc:  # its message says what the host's golive-backup did
            reporter.error(str(exc))
            return ExitCode.FAILED
    if restored.get("replaced"):
        reporter.line(f"what it held before is kept as backup {restored['replaced']}")
    controller.audit.append(
        {
            "kind": "restore",
            "env": controller.env.name,
            "by": controller_identity(),
            "backup": {"id": restored["id"], "sha256": restored["sha256"]},
            "into": into or "live",
            "replaced": restored.get("replaced"),
        }
    )
    return ExitCode.OK
