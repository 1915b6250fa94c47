"""`fab lab.down`: every host shut down, unmounted and deleted, then the network and the lab's files.

Works from whatever state a lab is in (fully up, half up, already down): each step checks before it acts,
so running it twice is safe."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from foundation.reporter import Reporter
from lab import files, network, nspawn, overlay, preflight, record
from lab.errors import LabError
from lab.layout import Layout
from lab.lock import held
from lab.mounts import mounted_under
from lab.network import links, namespaces
from lab.plan import BRIDGE, HOSTS, Host


def down(layout: Layout, report: Reporter) -> None:
    preflight.require()
    with held(layout.lock, exclusive=True, progress=report.line):
        teardown(layout, report)
    report.console.print(f"lab down in {report.total:.1f} s")


def teardown(layout: Layout, report: Reporter) -> None:
    owner = record.owner_layout(layout, record.load(layout))
    remove_hosts(owner, report, list(HOSTS))
    with report.step(f"network: bridge {BRIDGE} and the lab's routing rule"):
        network.remove_bridge()
    with report.step("lab files: keys, ssh_config, inventory, known_hosts, stack outputs"):
        files.remove(owner)
        layout.record.unlink(missing_ok=True)
        for directory in (layout.runtime / "hosts", layout.runtime):
            if directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()
    _confirm_nothing_left(layout)


def remove_hosts(layout: Layout, report: Reporter, hosts: list[Host]) -> None:
    def remove(host: Host) -> str:
        how = nspawn.stop(layout, host)
        overlay.remove(layout, host.name)
        network.remove_host(host)
        return how

    step = report.step(f"hosts: {', '.join(h.name for h in hosts)} (shut down, unmount, delete)")
    with step, ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        outcomes = list(pool.map(remove, hosts))
    for host, how in zip(hosts, outcomes, strict=True):
        if how != "not running":
            report.line(f"{host.name}: {how}")


def _confirm_nothing_left(layout: Layout) -> None:
    left = [f"namespace {name}" for name in namespaces() if name in {h.netns for h in HOSTS}]
    left += [f"link {name}" for name in links() if name == BRIDGE or name in {h.veth for h in HOSTS}]
    left += [f"mount {point}" for point in mounted_under(layout.runtime)]
    if left:
        raise LabError(f"lab.down left {', '.join(left)} behind; run it again, or remove them by hand")
