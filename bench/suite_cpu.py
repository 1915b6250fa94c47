"""Where a long command's CPU went, by process: what to cut when a run is CPU-bound (the suite on 2 cores is).

    .venv/bin/python -m bench.suite_cpu [--top 40] [--json FILE] -- CI=true bash .ci/run

Runs COMMAND (with GOLIVE_SUITE_CPU_RUN set, so its descendants can be told from the rest of the machine, daemons
that left its process tree included) and reads every process's CPU from /proc once a second until it exits. Prints
CPU seconds by command line (numbers and temporary paths folded, so 40 service instances on 40 ports are one row):
`self` is the process's own time, `reaped` its waited-for children's (a row whose children lived less than a
second shows their time there). Each row is classed: `run` (COMMAND's), `guest` (another PID namespace: the lab's
hosts), `other` (the rest of the machine: foreign load). Time a process spent before the first sample is left out.
Linux only; exit code: COMMAND's."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.cpu import PROC, TICKS, stat_fields

MARKER = "GOLIVE_SUITE_CPU_RUN"
_FOLD = ((re.compile(r"/tmp/[^ ]*/"), "<tmp>/"), (re.compile(r"\d{3,}"), "N"))


def fold(command: str, venv: str = str(Path(sys.executable).parent) + "/") -> str:
    """One row for processes that differ only in ports, PIDs and temporary folders."""
    command = command.replace(venv, "")
    for pattern, replacement in _FOLD:
        command = pattern.sub(replacement, command)
    return command[:120]


@dataclass
class _Process:
    row: str
    first: tuple[int, int]  # (self, reaped) ticks at the first sample
    last: tuple[int, int] = (0, 0)


@dataclass
class Sampler:
    token: str
    seen: dict[tuple[str, str], _Process] = field(default_factory=dict)
    own_namespace: str = field(default_factory=lambda: os.readlink("/proc/self/ns/pid"))
    started: bool = False

    def sample(self) -> None:
        for entry in PROC.iterdir():
            if not entry.name.isdigit() or (fields := stat_fields(int(entry.name))) is None:
                continue
            ticks = (int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14]))
            key = (entry.name, fields[19])  # pid and start time: a reused pid is another process
            process = self.seen.get(key)
            if process is None:
                process = self.seen[key] = _Process(self._row(entry), ticks if not self.started else (0, 0))
            process.last = ticks
        self.started = True

    def _row(self, entry: Path) -> str:
        command, guest, ours = "[gone]", False, False
        try:  # the process may exit at any of these reads: what was read by then stands
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            command = command or f"[{(entry / 'comm').read_text().strip()}]"  # a kernel thread
            guest = os.readlink(entry / "ns" / "pid") != self.own_namespace
            ours = f"{MARKER}={self.token}".encode() in (entry / "environ").read_bytes()
        except OSError:
            pass
        return f"{'guest' if guest else 'run' if ours else 'other'}: {fold(command)}"

    def totals(self) -> tuple[Counter[str], Counter[str]]:
        own, reaped = Counter[str](), Counter[str]()
        for process in self.seen.values():
            own[process.row] += (process.last[0] - process.first[0]) / TICKS
            reaped[process.row] += (process.last[1] - process.first[1]) / TICKS
        return own, reaped


def report(sampler: Sampler, top: int) -> dict[str, object]:
    own, reaped = sampler.totals()
    classes = {name: round(sum(v for k, v in own.items() if k.startswith(name + ":")), 1) for name in CLASSES}
    rows = [{"self": round(v, 1), "reaped": round(reaped[k], 1), "process": k} for k, v in own.most_common(top)]
    return {"cpu_seconds": classes, "processes": len(sampler.seen), "top": rows}


CLASSES = ("run", "guest", "other")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--top", type=int, default=40, help="rows to print (default 40)")
    parser.add_argument("--json", type=Path, help="also write the figures to FILE")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command: python -m bench.suite_cpu -- COMMAND [ARGS...]")
    sampler = Sampler(token=str(os.getpid()))
    sampler.sample()
    process = subprocess.Popen(command, env={**os.environ, MARKER: sampler.token})
    done = threading.Event()
    threading.Thread(target=lambda: (process.wait(), done.set()), daemon=True).start()
    while not done.wait(1.0):
        sampler.sample()
    sampler.sample()
    figures = report(sampler, args.top)
    print(f"CPU seconds: {figures['cpu_seconds']} over {figures['processes']} processes", file=sys.stderr)
    for row in figures["top"]:  # type: ignore[union-attr]
        print(f"{row['self']:9.1f} self {row['reaped']:9.1f} reaped  {row['process']}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return process.returncode


if __name__ == "__main__":
    raise SystemExit(main())
