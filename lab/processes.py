"""Processes the lab starts, recorded as `PID STARTTIME` so that a reused PID is never mistaken for ours."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat); None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie has exited: nobody reaped it yet
        return None
    return fields[19]


def record(path: Path, pid: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{pid} {start_time(pid) or '?'}\n")


def recorded(path: Path) -> int | None:
    """The PID in a record when that process is still the one recorded; None otherwise."""
    try:
        pid_text, started = path.read_text().split()
    except (FileNotFoundError, ValueError):
        return None
    pid = int(pid_text)
    return pid if start_time(pid) == started else None


def alive(pid: int) -> bool:
    return start_time(pid) is not None


def rooted_in(root: Path) -> list[int]:
    """Every process whose root directory is `root`: a container's processes seen from outside. Compared by
    device and inode, since readlink of /proc/PID/root shows the path inside the process's own mount
    namespace ("/" for every guest process)."""
    try:
        target = root.stat()
    except FileNotFoundError:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            seen = (entry / "root").stat()
        except OSError:
            continue
        if (seen.st_dev, seen.st_ino) == (target.st_dev, target.st_ino) and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def terminate(pid: int, grace: float) -> bool:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL. True when it had to be killed."""
    identity = {pid: start_time(pid)}
    _signal(identity, signal.SIGTERM)
    if wait_gone(identity, grace):
        return False
    _signal(identity, signal.SIGKILL)
    wait_gone(identity, 10.0)
    return True


def kill(pids: list[int]) -> None:
    identity = {pid: start_time(pid) for pid in pids}
    _signal(identity, signal.SIGKILL)
    wait_gone(identity, 10.0)


def wait_gone(identity: dict[int, str | None], timeout: float) -> bool:
    """Waits until none of these processes (PID and start time) exists; a reused PID does not count."""
    deadline = time.monotonic() + timeout
    while any(started is not None and start_time(pid) == started for pid, started in identity.items()):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _signal(identity: dict[int, str | None], number: signal.Signals) -> None:
    for pid, started in identity.items():
        if started is None or start_time(pid) != started:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, number)
