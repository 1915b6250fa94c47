"""Talking to the hosts over the lab's own ssh_config (the same path Fabric, Ansible and testinfra take)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from lab.errors import LabError
from lab.plan import Host

SSH_FAILED = 255  # ssh's own exit code: it could not connect or authenticate
BOOTED = ("running", "degraded")
ATTEMPT_SECONDS = 20.0  # one probe's longest wait; booting takes a few seconds


def command(config: Path, host: Host, *remote: str, connect_timeout: int = 2) -> list[str]:
    return ["ssh", "-F", str(config), "-o", f"ConnectTimeout={connect_timeout}", host.name, *remote]


def system_state(config: Path, host: Host, wait: bool = False, timeout: float = 10.0) -> str | None:
    """`systemctl is-system-running` on the host (None when SSH does not answer)."""
    # As root (the login user's sudo): systemctl then asks systemd over its private socket, as it always can; a user's
    # systemctl goes through D-Bus, which is not up early in the boot, and its --wait can miss the boot's end.
    remote = ["sudo", "-n", "systemctl", "is-system-running", *(["--wait"] if wait else [])]
    try:
        completed = subprocess.run(
            command(config, host, *remote), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return None
    if completed.returncode == SSH_FAILED:
        return None
    return completed.stdout.strip() or "unknown"


def wait_booted(config: Path, host: Host, timeout: float, still_running: Callable[[], bool]) -> str:
    """Waits until SSH answers and systemd has finished booting; returns the system state."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LabError(f"{host.name}: not booted with SSH answering within {timeout:.0f} s")
        if not still_running():
            raise LabError(f"{host.name}: systemd-nspawn exited during boot")
        # One attempt is bounded: a session opened while the host's sshd was (re)starting can stall its handshake, and
        # ConnectTimeout does not cover a proxy command's connection.
        state = system_state(config, host, wait=True, timeout=min(max(remaining, 1.0), ATTEMPT_SECONDS))
        if state in BOOTED:
            return state
        if state is not None and state not in ("initializing", "starting"):
            raise LabError(f"{host.name}: booted into state {state!r} (expected one of {', '.join(BOOTED)})")
        time.sleep(0.5)
