"""Steps around the plan: the release lock taken and given back, every host and the database reached, the
deployment checklist's phases (through the controller's `run_checks`)."""

from __future__ import annotations

from foundation.backups import dumps as backups
from foundation.backups.dumps import connection
from release import lock
from release.exit_codes import Refused
from release.plan import Step
from release.run import ChecksFailed, Run, SignoffHeld, StepContext


def take_lock(engine: StepContext, step: Step, run: Run) -> None:
    with lock.connect(engine.db_url) as conn:
        run.lease = lock.acquire(conn, engine.env.name, engine.owner, engine.env.lock_ttl_seconds, run.plan.kind)
    run.heartbeat = lock.Heartbeat(engine.db_url, run.lease, engine.env.lock_ttl_seconds).__enter__()
    run.record["lock_fence"] = run.lease.token
    engine.balancer()  # an environment whose balancer cannot be driven is refused here, before any change


def release_lock(engine: StepContext, step: Step, run: Run) -> None:
    engine.unlock(run)


def reach(engine: StepContext, step: Step, run: Run) -> None:
    assert step.host is not None
    engine.fleet.transports[step.host].run("true", timeout=20)


def database(engine: StepContext, step: Step, run: Run) -> None:
    """The database answers; where this controller takes the backup, its pg_dump can dump that server (a db host's
    own pg_dump comes with its server)."""
    if engine.env.backup_host:
        with engine.connect() as conn:
            run.record["pg"] = {"server": connection.server_major(conn)}
        return
    client, server = backups.tool_versions(engine.db_url)
    run.record["pg"] = {"client": client, "server": server}
    if client < server:
        raise Refused(f"pg_dump {client} is older than the server ({server}): backups would fail")


def checks(engine: StepContext, step: Step, run: Run) -> None:
    """A phase of the checklist (checks/); its summary goes into the audit record, its report to state/checks."""
    assert step.target is not None
    summary, blocking = engine.run_checks(step.target, run.record)
    run.record.setdefault("checks", {})[step.target] = summary
    if not blocking:
        return
    unsigned = set(summary.get("needs_signoff", ()))
    if all(item in unsigned for item in blocking):
        if run.phase is not None and run.phase.changes:  # the fleet serves the release: hold it, do not undo it
            raise SignoffHeld(step.target, blocking)
        raise ChecksFailed(f"{step.target} boxes wait for a sign-off: {', '.join(blocking)} (fab signoff, then again)")
    raise ChecksFailed(f"required {step.target} checks failed: {', '.join(blocking)}")
