"""`fab lab.status`: one row per host — address, nspawn PID, systemd's state over SSH."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from rich.table import Table

from foundation.reporter import Reporter
from lab import nspawn, preflight, record, ssh
from lab.layout import Layout
from lab.plan import HOSTS, Host


@dataclass(frozen=True)
class Row:
    host: str
    address: str
    pid: int | None
    system: str | None  # systemctl is-system-running, None when SSH does not answer

    @property
    def booted(self) -> bool:
        return self.system in ssh.BOOTED

    @property
    def ssh(self) -> bool:
        return self.system is not None


def rows(layout: Layout) -> list[Row]:
    owner = record.owner_layout(layout, record.load(layout))

    def probe(host: Host) -> Row:
        pid = nspawn.running(owner, host)
        system = ssh.system_state(owner.ssh_config, host, timeout=8) if pid and owner.ssh_config.exists() else None
        return Row(host.name, str(host.address), pid, system)

    with ThreadPoolExecutor(max_workers=len(HOSTS)) as pool:
        return list(pool.map(probe, HOSTS))


def table(found: list[Row]) -> Table:
    result = Table(title="lab hosts", title_justify="left")
    for column in ("host", "address", "booted?", "ssh?", "nspawn pid"):
        result.add_column(column)
    for row in found:
        result.add_row(
            row.host,
            row.address,
            row.system if row.booted else f"no ({row.system or '-'})",
            "yes" if row.ssh else "no",
            str(row.pid) if row.pid else "-",
        )
    return result


def status(layout: Layout, report: Reporter) -> list[Row]:
    preflight.require()
    found = rows(layout)
    report.console.print(table(found))
    current = record.load(layout)
    if current is None:
        report.line("no lab is up (`fab lab.up` brings one up)")
    else:
        report.line(f"image {current.image}; ssh_config {record.owner_layout(layout, current).ssh_config}")
    return found
