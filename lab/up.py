"""`fab lab.up`: image, keys and files, network, overlays, then every host booted in parallel.

Idempotent: hosts already running are left alone. A failed up takes down what it started (the whole lab
when nothing ran before it), so nothing is left half-applied."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from foundation.reporter import Reporter
from lab import down, files, host_files, keys, network, nspawn, overlay, preflight, processes, record, ssh
from lab.errors import LabError
from lab.image import build
from lab.layout import Layout
from lab.lock import held
from lab.plan import HOSTS, Host
from lab.shell import tail

BOOT_TIMEOUT = float(os.environ.get("GOLIVE_LAB_BOOT_TIMEOUT", "180"))


def up(layout: Layout, report: Reporter) -> None:
    preflight.require()
    with held(layout.lock, exclusive=True, progress=report.line):
        _up(layout, report)
    report.console.print(f"lab up in {report.total:.1f} s; try: ssh -F {layout.ssh_config} web1")


def _up(layout: Layout, report: Reporter) -> None:
    previous = record.load(layout)
    record.refuse_foreign(layout, previous)
    running = {host.name for host in HOSTS if nspawn.running(layout, host)}
    for host in HOSTS:
        if host.name not in running and processes.rooted_in(layout.merged(host.name)):
            raise LabError(f"{host.name} runs, but this lab did not record starting it: `fab lab.down` first")
    pending = [host for host in HOSTS if host.name not in running]
    if running:
        report.line(f"already running, left alone: {', '.join(sorted(running))}")
        _warn_if_stale(report, previous)
    if not pending:
        with report.step("ssh_config, inventory, known_hosts and stack outputs"):
            files.write(layout, keys.ensure_all(layout))
        return
    image = _image(layout, report, previous if running else None)
    try:
        record.save(layout, record.Record(str(layout.state), image.key, str(image.root)))
        with report.step("keys, ssh_config, inventory, known_hosts, stack outputs"):
            files.write(layout, keys.ensure_all(layout))
        with report.step(f"network: bridge, namespaces and veths for {len(pending)} hosts"):
            network.ensure_bridge()
            for host in pending:
                network.ensure_host(host)
        with report.step(f"overlays over image {image.key}"):
            for host in pending:
                host_files.write(overlay.mount(layout, host.name, image.root), host, layout)
        _boot(layout, report, pending)
    except BaseException as exc:
        _undo(layout, report, pending, whole_lab=not running)
        if isinstance(exc, LabError):
            raise LabError(f"{exc}\n(lab.up undid what it had started)") from None
        raise


def _image(layout: Layout, report: Reporter, previous: record.Record | None) -> build.Image:
    """Hosts join a running lab on its image; a new lab boots the image of the current package list."""
    if previous is not None and Path(previous.image_root).is_dir():
        return build.Image(previous.image, Path(previous.image_root).parent, cached=True)
    started = time.monotonic()
    image = build.ensure(layout.cache, report.line)
    how = "cached" if image.cached else "built"
    report.line(f"base image {how}: {image.key} ({time.monotonic() - started:.1f} s)")
    return image


def _warn_if_stale(report: Reporter, previous: record.Record | None) -> None:
    if previous is not None and previous.image != build.current_key():
        report.warn(
            f"lab/image/packages.txt (or provision.sh) changed since the lab came up: its hosts run image "
            f"{previous.image}; `fab lab.down && fab lab.up` boots them from the new one"
        )


def _boot(layout: Layout, report: Reporter, hosts: list[Host]) -> None:
    with report.step(f"booting {', '.join(h.name for h in hosts)} (systemd-nspawn, in parallel)"):
        started = time.monotonic()
        pids = {host.name: nspawn.start(layout, host) for host in hosts}

        def wait(host: Host) -> None:
            state = ssh.wait_booted(
                layout.ssh_config, host, BOOT_TIMEOUT, still_running=lambda: processes.alive(pids[host.name])
            )
            report.line(
                f"{host.name:<11} {host.address!s:<12} {state:<9} pid {pids[host.name]:<8} "
                f"{time.monotonic() - started:5.1f} s"
            )

        with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
            results = [pool.submit(wait, host) for host in hosts]
        failed = [(host, result.exception()) for host, result in zip(hosts, results, strict=True) if result.exception()]
        if failed:
            raise LabError(
                "\n".join(
                    f"{error}\n{host.name}'s console ({layout.console_log(host.name)}), last lines:\n"
                    f"{tail(layout.console_log(host.name), 15)}"
                    for host, error in failed
                )
            )


def _undo(layout: Layout, report: Reporter, started: list[Host], whole_lab: bool) -> None:
    report.warn("lab.up failed: undoing " + ("the whole lab" if whole_lab else ", ".join(h.name for h in started)))
    try:
        if whole_lab:
            down.teardown(layout, report)
        else:
            down.remove_hosts(layout, report, started)
    except LabError as exc:
        report.error(f"undo incomplete: {exc}\n`fab lab.down` removes whatever is left")
