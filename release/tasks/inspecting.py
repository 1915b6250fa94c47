"""fab status / fab history / fab unlock."""

from __future__ import annotations

import httpx
import psycopg
from invoke import task
from invoke.exceptions import Exit
from rich.table import Table

from release import lock
from release.engine import Outcome, controller_identity
from release.tasks.context import engine_for, exits


@task(help={"env": "target environment"})
def status(c, env=None) -> None:
    """What runs where: current and previous release, every instance's health and version, the lock."""
    engine = engine_for(env)
    deployed = engine.deployed()
    console = engine.reporter.console
    console.print(
        f"[bold]{engine.env.name}[/bold]: current {deployed.current or '-'} ({deployed.current_version or '-'}),"
        f" previous {deployed.previous or '-'}, {len(deployed.releases)} releases kept"
    )
    table = Table("instance", "health", "release", "schema")
    for url in engine.env.instance_urls():
        try:
            health = httpx.get(f"{url}/api/health", timeout=3)
            version = httpx.get(f"{url}/api/version", timeout=3).json()
            table.add_row(
                url,
                health.json().get("status", str(health.status_code)),
                version.get("release_id"),
                f"{version.get('schema_revision')} (code {version.get('schema_head')})",
            )
        except (httpx.TransportError, ValueError) as exc:
            table.add_row(url, f"down ({type(exc).__name__})", "-", "-")
    console.print(table)
    with psycopg.connect(engine.db_url, autocommit=True) as conn:
        lock.ensure_schema(conn)
        held = lock.current(conn, engine.env.name)
    console.print(
        f"lock: {'held by ' + held.owner + ' (' + held.reason + ') until ' + str(held.expires_at) if held else 'free'}"
    )


@task(help={"env": "target environment", "limit": "how many of the newest records to show (default 20)"})
def history(c, env=None, limit=20) -> None:
    """The audit log of releases and rollbacks, newest last; verifies the hash chain and says where it breaks."""
    engine = engine_for(env)
    console = engine.reporter.console
    verification = engine.audit.verify()
    if not verification.ok:
        console.print(f"[red]audit log broken at line {verification.broken_at}: {verification.problem}[/red]")
        raise Exit(code=1)
    table = Table("#", "at", "kind", "by", "release", "outcome", "artifact", "backup", "schema", "gates")
    for entry in engine.audit.entries()[-int(limit) :]:
        schema = f"{entry.get('schema_before') or '-'} -> {entry.get('schema_after') or '-'}"
        gates = entry.get("gate_verdict", "-")
        table.add_row(
            str(entry["seq"]),
            entry["at"][:19],
            entry.get("kind", "-"),
            entry.get("by", "-"),
            entry.get("release_id", "-"),
            entry.get("outcome", "-"),
            (entry.get("artifact") or {}).get("sha256", "-")[:12],
            (entry.get("backup") or {}).get("id", "-"),
            schema,
            gates,
        )
    console.print(table)
    console.print(f"chain verified: {verification.count} records")


@task(
    help={
        "env": "target environment",
        "force": "required: breaking a lock is deliberate",
        "reason": "why (recorded in the audit log)",
    }
)
@exits
def unlock(c, env=None, force=False, reason=None) -> Outcome:
    """Break the release lock of an environment (after a crashed release), recorded with your reason."""
    if not force or not reason:
        raise Exit("refusing: pass --force and --reason '...' (the reason goes into the audit log)", code=2)
    engine = engine_for(env)
    with psycopg.connect(engine.db_url, autocommit=True) as conn:
        lock.ensure_schema(conn)
        broken = lock.force_unlock(conn, engine.env.name)
    if broken is None:
        engine.reporter.line("no lock was held")
        return Outcome.RELEASED
    engine.audit.append(
        {
            "kind": "unlock",
            "env": engine.env.name,
            "by": controller_identity(),
            "reason": reason,
            "broken": {"owner": broken.owner, "fence": broken.token, "reason": broken.reason},
        }
    )
    engine.reporter.line(f"broke the lock held by {broken.owner} (token {broken.token})")
    return Outcome.RELEASED
