"""What runs where (status), what happened (history), and breaking a crashed release's lock (unlock)."""

from __future__ import annotations

from typing import Any

import httpx
from rich.table import Table

from foundation.holds import held_release, recorded_release
from foundation.instance_endpoints import InstanceEndpoints, name
from foundation.transport import HostUnreachable
from release import lock
from release.controller import Controller
from release.exit_codes import ExitCode, Refused
from release.run import controller_identity


def status(controller: Controller) -> ExitCode:
    """Current and previous release, every web host's release (a host behind the fleet's marked), a held release
    and what it waits for, every instance's health, release and schema, the lock."""
    env, console = controller.env, controller.reporter.console
    deployed = controller.fleet.deployed(split_ok=True, recorded=recorded_release(controller.audit))
    split = (
        " [red](web hosts run different releases)[/red]"
        if deployed.current is None and any(deployed.hosts.values())
        else ""
    )
    console.print(
        f"[bold]{env.name}[/bold]: current {deployed.current or '-'} ({deployed.current_version or '-'}),"
        f" previous {deployed.previous or '-'}, {len(deployed.releases)} releases kept{split}"
    )
    hosts = Table("host", "release", "")
    for host, release in deployed.hosts.items():
        lag = f"[yellow]behind: {deployed.lag(host)}[/yellow]" if host in deployed.behind else ""
        hosts.add_row(host, release or "-", lag)
    console.print(hosts)
    if deployed.behind:
        fix = f"fab release --env {env.name} --version {deployed.current_version}"
        console.print(f"`{fix}` brings the hosts behind to {deployed.current}")
    held = held_release(controller.audit)
    if held:
        console.print(f"[yellow]{_held(env.name, held)}[/yellow]")
    table = Table("instance", "health", "release", "schema")
    with controller.fleet.endpoints as endpoints:
        for host, port in endpoints.targets():
            table.add_row(name(host, port), *_instance(endpoints, host, port))
    console.print(table)
    with lock.connect(controller.db_url) as conn:
        held = lock.current(conn, env.name)
    console.print(f"lock: {f'held by {held.owner} ({held.reason}) until {held.expires_at}' if held else 'free'}")
    return ExitCode.OK


def _instance(endpoints: InstanceEndpoints, host: str, port: int) -> tuple[str, str, str]:
    """Its health, release and schema as it answers them."""
    try:
        url = endpoints.url(host, port)
        health = httpx.get(f"{url}/api/health", timeout=3)
        version = httpx.get(f"{url}/api/version", timeout=3).json()
        return (
            health.json().get("status", str(health.status_code)),
            version.get("release_id"),
            f"{version.get('schema_revision')} (code {version.get('schema_head')})",
        )
    except HostUnreachable as exc:
        return f"unreachable ({exc})", "-", "-"
    except (httpx.TransportError, ValueError) as exc:
        return f"down ({type(exc).__name__})", "-", "-"


def _held(env: str, record: dict[str, Any]) -> str:
    """A held release and what it waits for: sign-offs (and which boxes), or a person's word on inconclusive gates."""
    hold = record.get("hold") if isinstance(record.get("hold"), dict) else {}
    since = f"held: {record.get('release_id')} ({record.get('version')}) since {str(record.get('at', '-'))[:19]}"
    promote = f"`fab promote --env {env}`"
    if hold.get("waiting_for"):
        boxes = ", ".join(hold["waiting_for"])
        return (
            f"{since}, waiting for sign-off of {boxes} (`fab signoff --env {env} --item ID --by NAME`, then {promote})"
        )
    reason = hold.get("reason", "held for a person")
    return f"{since}, {reason}: waiting for a person ({promote} finishes it, `fab rollback --env {env}` undoes it)"


def history(controller: Controller, limit: int = 20) -> ExitCode:
    """The audit log, newest last; the hash chain verified (exit 1, naming the line, when it breaks)."""
    console = controller.reporter.console
    verification = controller.audit.verify()
    if not verification.ok:
        console.print(f"[red]audit log broken at line {verification.broken_at}: {verification.problem}[/red]")
        return ExitCode.FAILED
    table = Table("#", "at", "kind", "by", "release", "outcome", "artifact", "backup", "schema", "gates")
    for entry in controller.audit.entries()[-int(limit) :]:
        table.add_row(
            str(entry["seq"]),
            entry["at"][:19],
            entry.get("kind", "-"),
            entry.get("by", "-"),
            entry.get("release_id", "-"),
            entry.get("outcome", "-"),
            (entry.get("artifact") or {}).get("sha256", "-")[:12],
            (entry.get("backup") or {}).get("id", "-"),
            f"{entry.get('schema_before') or '-'} -> {entry.get('schema_after') or '-'}",
            entry.get("gate_verdict", "-"),
        )
    console.print(table)
    console.print(f"chain verified: {verification.count} records")
    return ExitCode.OK


def unlock(controller: Controller, reason: str | None, *, force: bool) -> ExitCode:
    """Breaks the environment's release lock (a crashed release's), recorded with the reason."""
    if not force or not reason:
        raise Refused("refusing: pass --force and --reason '...' (the reason goes into the audit log)")
    with lock.connect(controller.db_url) as conn:
        broken = lock.force_unlock(conn, controller.env.name)
    if broken is None:
        controller.reporter.line("no lock was held")
        return ExitCode.OK
    controller.audit.append(
        {
            "kind": "unlock",
            "env": controller.env.name,
            "by": controller_identity(),
            "reason": reason,
            "broken": {"owner": broken.owner, "fence": broken.token, "reason": broken.reason},
        }
    )
    controller.reporter.line(f"broke the lock held by {broken.owner} (token {broken.token})")
    return ExitCode.OK
