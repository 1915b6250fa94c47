"""Where the CPU went during a measurement: CPU seconds of each part of the stack (a process and all its
descendants, read from /proc), of wrk, and of the whole machine, so that what other processes used
(foreign load, which lowers every figure) is visible in the report. Linux only; elsewhere it reports
nothing."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
KTHREADD = 2  # the parent of every kernel thread


def stat_fields(pid: int) -> list[str] | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; everything after its closing parenthesis is fixed.
    return text.rsplit(")", 1)[1].split()


def descendants(root: int) -> set[int]:
    """root and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (fields := stat_fields(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def process_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (0 when it is gone)."""
    fields = stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / TICKS if fields else 0.0


def machine_seconds() -> tuple[float, float, float]:
    """(all, busy in processes, busy in interrupts) CPU seconds since boot, over every CPU."""
    try:
        values = [int(value) for value in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0, 0.0, 0.0
    user, nice, system, idle, iowait, irq, softirq, steal = values[:8]  # guest time is inside user
    total = user + nice + system + idle + iowait + irq + softirq + steal
    return total / TICKS, (user + nice + system) / TICKS, (irq + softirq) / TICKS


def children_seconds() -> float:
    """CPU seconds of this process's waited-for children (wrk)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class CpuUsage:
    seconds: dict[str, float]  # per part, plus "wrk"
    machine_seconds: float  # CPU seconds available during the measurement (wall time x CPUs)
    busy_seconds: float  # of which used by processes (user and system time)
    # Interrupts and kernel threads: mostly the loopback network the requests cross, not a process's.
    kernel_seconds: float

    @property
    def foreign_seconds(self) -> float:
        """Used by other processes than this run's (someone else's tests, a build...)."""
        return max(0.0, self.busy_seconds - sum(self.seconds.values()) - self.kernel_seconds)

    @property
    def foreign_share(self) -> float:
        return self.foreign_seconds / self.machine_seconds if self.machine_seconds else 0.0

    def per_request_ms(self, requests: int) -> dict[str, float]:
        return {part: round(seconds * 1000 / requests, 2) for part, seconds in self.seconds.items()} if requests else {}

    def to_json(self, requests: int) -> dict[str, object]:
        return {
            "cpu_ms_per_request": self.per_request_ms(requests),
            "cpu_seconds": {part: round(seconds, 2) for part, seconds in self.seconds.items()},
            "kernel_cpu_seconds": round(self.kernel_seconds, 2),
            "foreign_cpu_share": round(self.foreign_share, 3),
        }


class CpuMeter:
    """Start before a measurement, stop after it. `parts` names the root PID of each part."""

    def __init__(self, parts: dict[str, int]):
        self.parts = parts
        self._pids: dict[str, set[int]] = {}
        self._before: dict[int, float] = {}
        self._machine = (0.0, 0.0, 0.0)
        self._kernel: dict[int, float] = {}
        self._children = 0.0

    def start(self) -> CpuMeter:
        self._pids = {name: descendants(root) for name, root in self.parts.items()}
        self._before = {pid: process_seconds(pid) for pids in self._pids.values() for pid in pids}
        self._kernel = {pid: process_seconds(pid) for pid in descendants(KTHREADD) - {KTHREADD}}
        self._children = children_seconds()
        self._machine = machine_seconds()
        return self

    def stop(self) -> CpuUsage:
        total, busy, interrupts = machine_seconds()
        kernel = interrupts - self._machine[2]
        for pid in descendants(KTHREADD) - {KTHREADD}:
            kernel += max(0.0, process_seconds(pid) - self._kernel.get(pid, 0.0))
        seconds = {}
        for name, root in self.parts.items():
            pids = self._pids[name] | descendants(root)
            seconds[name] = sum(max(0.0, process_seconds(pid) - self._before.get(pid, 0.0)) for pid in pids)
        seconds["wrk"] = children_seconds() - self._children
        return CpuUsage(seconds, total - self._machine[0], busy - self._machine[1], kernel)
