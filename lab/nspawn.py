"""Booting a host: systemd-nspawn in the background with systemd as PID 1, in the host's own network
namespace. `--register=no --keep-unit` because the machine has no system bus for machined."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from lab import processes
from lab.layout import Layout
from lab.plan import Host, netns_path_of

STOP_GRACE = 30.0  # seconds a guest gets to shut down after SIGTERM before SIGKILL


def command(root: Path, host: Host) -> list[str]:
    return [
        "systemd-nspawn",
        "--quiet",
        f"--directory={root}",
        "--boot",
        "--register=no",
        "--keep-unit",
        f"--network-namespace-path={netns_path_of(host.name)}",
        # nftables (the firewall role) inside the guest; it reaches only the guest's own network namespace
        "--capability=CAP_NET_ADMIN",
        f"--machine={host.name}",
        "--link-journal=no",  # the guest's journal stays inside the guest
        "--resolv-conf=off",  # the image's /etc/resolv.conf (no DNS: names are in /etc/hosts)
        "--timezone=off",
        "--console=read-only",  # boot messages go to the console log
    ]


def environment() -> dict[str, str]:
    """nspawn's own environment: /proc/sys/net writable in the guest (only its own namespace's settings, for
    the roles' sysctl hardening); the rest of /proc/sys stays read-only."""
    return {**os.environ, "SYSTEMD_NSPAWN_API_VFS_WRITABLE": "network"}


def start(layout: Layout, host: Host) -> int:
    """Starts the host's systemd-nspawn in its own session (it outlives this process); returns its PID."""
    log = layout.console_log(host.name)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as sink:
        child = subprocess.Popen(
            command(layout.merged(host.name), host),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=environment(),
            start_new_session=True,
        )
    processes.record(layout.pid_file(host.name), child.pid)
    return child.pid


def running(layout: Layout, host: Host) -> int | None:
    """The PID of the host's systemd-nspawn when it is the one this lab started and still runs."""
    return processes.recorded(layout.pid_file(host.name))


def stop(layout: Layout, host: Host) -> str:
    """Shuts the guest down (SIGTERM to nspawn; SIGKILL after STOP_GRACE), then kills anything still running
    inside its root. Returns what it did, for the progress line."""
    pid = running(layout, host)
    done = "not running"
    if pid is not None:
        done = "killed after no clean shutdown" if processes.terminate(pid, STOP_GRACE) else "shut down"
    leftovers = processes.rooted_in(layout.merged(host.name))
    if leftovers:
        processes.kill(leftovers)
        done += f"; killed {len(leftovers)} leftover processes"
    layout.pid_file(host.name).unlink(missing_ok=True)
    return done
