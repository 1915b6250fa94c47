"""A proven backup where the environment takes its release backups (on its db host, or by the controller), and a
restore of one the controller took."""

from __future__ import annotations

from foundation.backups import dumps as backups
from release.backups import on_host
from release.controller import Controller
from release.exit_codes import ExitCode, Refused
from release.run import controller_identity


def backup(controller: Controller) -> ExitCode:
    """As a release takes it: on the environment's backup_host when it has one, else by the controller."""
    env, reporter = controller.env, controller.reporter
    if env.backup_host:
        with reporter.step(f"backup on {env.backup_host}: golive-backup release (pg_dump -Fc, proven there)"):
            taken = on_host.take(controller.fleet.transports[env.backup_host])
        reporter.line(
            f"backup {taken.id} on {taken.host}: {taken.size} bytes, sha256 {taken.sha256}, {taken.rows} rows"
        )
        record = taken.record()
    else:
        with reporter.step("pg_dump -Fc"):
            local = backups.take(controller.db_url, controller.state.backups(env.name))
        with reporter.step("prove: restore into a scratch database, compare row counts"):
            counts = backups.prove(local, controller.db_url)
        reporter.line(f"backup {local.id}: {local.size} bytes, sha256 {local.sha256}, {sum(counts.values())} rows")
        record = {"id": local.id, "sha256": local.sha256, "rows": sum(counts.values())}
    controller.audit.append({"kind": "backup", "env": env.name, "by": controller_identity(), "backup": record})
    return ExitCode.OK


def restore(controller: Controller, backup_id: str | None, into: str | None = None) -> ExitCode:
    """A backup the controller took, over the live database (one transaction) or into a new one."""
    if not backup_id:
        raise Refused("--backup ID is required")
    try:
        found = backups.find(controller.state.backups(controller.env.name), backup_id)
    except backups.BackupNotFound as exc:
        raise Refused(str(exc)) from None
    with controller.reporter.step(f"restore {found.id} {'into ' + into if into else 'over the live database'}"):
        backups.restore(found, controller.db_url, into=into)
    controller.audit.append(
        {
            "kind": "restore",
            "env": controller.env.name,
            "by": controller_identity(),
            "backup": {"id": found.id, "sha256": found.sha256},
            "into": into or "live",
        }
    )
    return ExitCode.OK
