"""What the release engine did, proven from its record (the release being made, else the newest released
one in the audit log) and from the hosts: backup taken and intact, artifact built, every web host switched
to it with its dependencies sound, previous release kept for a rollback; the audit chain intact; rollback
drills recorded, fast enough, recent enough."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from checks.backups import ask, backups_of
from checks.context import Context
from checks.model import CheckError, Result, Status, failed, not_applicable, passed, result_of, unverified, worst
from checks.registry import check
from foundation import host_commands
from foundation.audit import AuditLog
from foundation.backups import dumps
from foundation.files import sha256_of


def _release(ctx: Context) -> dict[str, Any]:
    found = ctx.last_release()
    if found is None:
        raise CheckError(
            f"could not check: no release of {ctx.env.name} recorded in {ctx.audit.path}", status=Status.UNVERIFIED
        )
    return found


@check("release.backup")
def backup_taken(ctx: Context, args: dict[str, Any]) -> Result:
    release = _release(ctx)
    recorded = release.get("backup")
    command = f"release {release.get('release_id')}: its backup's manifest and file (sha256)"
    if not recorded:
        return failed(f"release {release.get('release_id')} recorded no backup", command)
    backups = backups_of(ctx)
    try:
        found = ask(lambda: backups.find(recorded["id"]), command)
        problem = ask(lambda: backups.verify(found.id), command).get(found.id)
    except dumps.BackupNotFound as exc:
        return failed(str(exc), command)
    if problem is not None or found.sha256 != recorded["sha256"]:
        why = f" ({problem})" if problem else ""
        return failed(f"backup {found.id}'s file does not match the recorded sha256{why}", command)
    return passed(
        f"backup {found.id} ({found.size / 1e3:.0f} kB, {recorded.get('rows')} rows) proven before migrating", command
    )


@check("release.staging_tested")
def staging_tested(ctx: Context, args: dict[str, Any]) -> Result:
    if ctx.env.name != "production":
        return not_applicable(
            f"{ctx.env.name} is where migrations are tried first; only production needs staging's proof"
        )
    release = _release(ctx)
    staging = AuditLog(ctx.state.audit_log("staging"))
    command = f"released records of {staging.path} with schema_after {release.get('schema_head')}"
    head = release.get("schema_head")
    for entry in reversed(staging.entries()):
        if entry.get("kind") == "release" and entry.get("outcome") == "released" and entry.get("schema_after") == head:
            return passed(
                f"staging migrated to {head} in release {entry.get('release_id')} ({entry['at'][:19]})", command
            )
    return failed(f"no released staging release migrated to {head}", command)


@check("release.artifact")
def artifact(ctx: Context, args: dict[str, Any]) -> Result:
    release = _release(ctx)
    built = release.get("artifact") or {}
    path = ctx.state.artifacts / str(built.get("name"))
    command = f"sha256sum {path}"
    if not built:
        return failed(f"release {release.get('release_id')} recorded no artifact", command)
    if not path.is_file():
        return failed(f"artifact {path} is gone (the hosts were installed from it)", command)
    if sha256_of(path) != built["sha256"]:
        return failed(f"artifact {path.name} does not match the recorded sha256", command)
    return passed(f"{path.name} built, sha256 {built['sha256'][:16]}…, schema head {built.get('schema_head')}", command)


@check("release.deployed")
def deployed(ctx: Context, args: dict[str, Any]) -> Result:
    release = _release(ctx)
    wanted = release.get("release_id")
    command = host_commands.read_state(ctx.fleet.layout)
    results = []
    for host in ctx.env.web_hosts:
        current, *_ = host_commands.parse_state(ctx.transport(host).run(command, timeout=30).output)
        ok = current == wanted
        results.append(
            (passed if ok else failed)(f"{host}: current -> {current} (release {wanted})", "readlink current")
        )
    return worst(results)


@check("release.dependencies")
def dependencies(ctx: Context, args: dict[str, Any]) -> Result:
    venv_python = f"{ctx.env.root}/current/venv/bin/python"
    command = f"{venv_python} -m pip check && {venv_python} -c 'import app.main'"
    results = []
    for host in ctx.env.web_hosts:
        answer = ctx.transport(host).run(f"cd {ctx.env.root}/current/source && {command}", timeout=120, check=False)
        line = " ".join(answer.output.split())[:200] or "ok"
        results.append((passed if answer.code == 0 else failed)(f"{host}: {line}", command))
    return worst(results)


@check("release.rollback_ready")
def rollback_ready(ctx: Context, args: dict[str, Any]) -> Result:
    deployed_now = ctx.fleet.deployed()
    command = "readlink current previous on every web host"
    if deployed_now.previous is None:
        return failed("no previous release on the hosts: `fab rollback` would have nowhere to go", command)
    if deployed_now.previous not in deployed_now.releases:
        return failed(f"previous release {deployed_now.previous} is not on every web host", command)
    return passed(f"fab rollback would return to {deployed_now.previous} (current {deployed_now.current})", command)


@check("release.kept")
def kept(ctx: Context, args: dict[str, Any]) -> Result:
    deployed_now = ctx.fleet.deployed()
    command = f"ls {ctx.env.root}/releases on every web host"
    count = len(deployed_now.releases)
    if count < 2:
        return failed(f"{count} release kept on the hosts: nothing to return to", command, count)
    return passed(f"{count} releases kept on every web host (current and previous included)", command, count)


@check("release.rollback_compatible")
def rollback_compatible(ctx: Context, args: dict[str, Any]) -> Result:
    release = _release(ctx)
    irreversible = release.get("irreversible") or []
    command = f"irreversible migrations of release {release.get('release_id')}"
    if irreversible:
        return failed(
            f"irreversible migrations {', '.join(irreversible)}: the previous release needs the backup restored",
            command,
        )
    return passed(
        f"the previous release runs on this schema ({release.get('schema_before')} -> {release.get('schema_after')})",
        command,
    )


@check("audit.chain")
def audit_chain(ctx: Context, args: dict[str, Any]) -> Result:
    result = ctx.audit.verify()
    command = f"verify the hash chain of {ctx.audit.path}"
    if not result.ok:
        return failed(f"audit log broken: {result.problem}", command)
    if result.count == 0:
        return failed(f"the audit log {ctx.audit.path} is empty: nothing has been recorded", command)
    return passed(f"{result.count} records, hash chain intact", command, result.count)


def _rollbacks(ctx: Context) -> list[dict[str, Any]]:
    return [e for e in ctx.audit.entries() if e.get("kind") == "rollback" and e.get("outcome") == "rolled back"]


@check("rollback.tested")
def rollback_tested(ctx: Context, args: dict[str, Any]) -> Result:
    days = int(ctx.config["rollback_max_age_days"])
    command = f"kind=rollback records of {ctx.audit.path}"
    done = _rollbacks(ctx)
    if not done:
        return failed(
            f"no rollback ever done on {ctx.env.name}: drill one (`fab rollback --env {ctx.env.name}`)", command
        )
    last = done[-1]
    age = ctx.now - datetime.fromisoformat(last["at"])
    if age > timedelta(days=days):
        return failed(f"the last rollback was {age.days} days ago (at most {days})", command)
    return passed(
        f"rolled back {last.get('from')} -> {last.get('release_id')} on {last['at'][:19]} by {last.get('by')}", command
    )


@check("recovery.rto_rpo")
def rto_rpo(ctx: Context, args: dict[str, Any]) -> Result:
    """RTO: the last rollback's duration; RPO: the age of the newest backup."""
    rto, rpo = float(ctx.config["rto_seconds"]), float(ctx.config["rpo_hours"])
    results = []
    done = _rollbacks(ctx)
    if done:
        seconds = sum(done[-1].get("timings", {}).values())
        results.append(
            (passed if seconds <= rto else failed)(
                f"last rollback took {seconds:.1f} s (RTO {rto:g} s)", "audit timings", seconds
            )
        )
    else:
        results.append(unverified(f"no rollback recorded to measure the RTO ({rto:g} s)"))
    if not args.get("rto_only"):
        results.append(result_of(_rpo, ctx, rpo))
    return worst(results)


def _rpo(ctx: Context, rpo: float) -> Result:
    """The newest backup's age, wherever the environment keeps its backups."""
    found = ask(backups_of(ctx).list, "backup manifests")
    if not found:
        return failed(f"no backup: the RPO ({rpo:g} h) is not met")
    hours = (ctx.now - found[0].created_at).total_seconds() / 3600
    return (passed if hours <= rpo else failed)(
        f"newest backup {hours:.1f} h old (RPO {rpo:g} h)", "backup manifests", hours
    )
