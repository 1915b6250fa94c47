"""The hosts themselves, over their transports: reachable and provisioned (the service's Python),
memory and CPU load within limits, and the service started by its process manager."""

from __future__ import annotations

import sys
from typing import Any

from checks.context import Context
from checks.model import Result, failed, passed, worst
from checks.registry import check
from foundation.transport import CommandFailed, HostUnreachable


def _run(ctx: Context, host: str, command: str) -> str:
    return ctx.transport(host).run(command, timeout=30).output


def _all_hosts(ctx: Context) -> list[str]:
    return list(dict.fromkeys(host for hosts in ctx.env.hosts.values() for host in hosts))


@check("hosts.provisioned")
def provisioned(ctx: Context, args: dict[str, Any]) -> Result:
    python = sys.executable if ctx.env.is_local else "python3"
    command = f"uname -sr && {python} --version && test -d {ctx.env.root}"
    results = []
    for host in _all_hosts(ctx):
        role = next(r for r, names in ctx.env.hosts.items() if host in names)
        probe = command if role == "web" else "uname -sr"
        try:
            output = " ".join(_run(ctx, host, probe).split())
        except (CommandFailed, HostUnreachable) as exc:
            results.append(failed(f"{host} ({role}): {str(exc).splitlines()[0]}", probe))
            continue
        results.append(passed(f"{host} ({role}): {output}", probe))
    return worst(results)


@check("hosts.memory")
def memory(ctx: Context, args: dict[str, Any]) -> Result:
    minimum = float(ctx.config["min_memory_available"])
    results = []
    for host in ctx.env.web_hosts:
        fields = {}
        for line in _run(ctx, host, "cat /proc/meminfo").splitlines():
            name, _, rest = line.partition(":")
            fields[name] = int(rest.split()[0]) if rest.split() else 0
        share = fields["MemAvailable"] / fields["MemTotal"]
        available, total = fields["MemAvailable"] / 1024, fields["MemTotal"] / 1024
        detail = f"{host}: {available:.0f} MiB of {total:.0f} MiB available ({share:.0%}, at least {minimum:.0%})"
        results.append((passed if share >= minimum else failed)(detail, "cat /proc/meminfo", round(share, 3)))
    return worst(results)


@check("hosts.cpu")
def cpu(ctx: Context, args: dict[str, Any]) -> Result:
    limit = float(ctx.config["max_load_per_cpu"])
    results = []
    for host in ctx.env.web_hosts:
        load, cpus = _run(ctx, host, "cut -d' ' -f1 /proc/loadavg; nproc").split()[:2]
        per_cpu = float(load) / int(cpus)
        detail = f"{host}: load {load} on {cpus} CPUs = {per_cpu:.2f} per CPU (at most {limit:g})"
        results.append((passed if per_cpu <= limit else failed)(detail, "cat /proc/loadavg; nproc", round(per_cpu, 2)))
    return worst(results)


def status_command(ctx: Context, instance: str) -> str:
    if ctx.env.service_manager == "supervisord":
        conf = ctx.env.root / "supervisord.conf"
        return f"{sys.executable} -m supervisor.supervisorctl -c {conf} status {instance}"
    return f"systemctl is-active golive-{instance}.service"


@check("hosts.process_manager")
def process_manager(ctx: Context, args: dict[str, Any]) -> Result:
    results = []
    for host in ctx.env.web_hosts:
        for instance in ctx.env.instances:
            command = status_command(ctx, instance.name)
            answer = ctx.transport(host).run(command, timeout=30, check=False)
            line = " ".join(answer.output.split())
            running = "RUNNING" in line if ctx.env.service_manager == "supervisord" else line == "active"
            results.append((passed if running else failed)(f"{host}/{instance.name}: {line}", command))
    return worst(results)
