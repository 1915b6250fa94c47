"""Running ansible-playbook, ansible-lint and the testinfra suite as an operator would, and reading their
results (the PLAY RECAP, pytest's closing line)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from foundation.repository import REPO_ROOT
from lab.layout import Layout

BIN = Path(sys.executable).parent
INVENTORY = Layout.default().inventory
TIMINGS = Layout.default().state / "ansible-timings.json"
_RECAP_LINE = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counts>(?:\w+=\d+\s*)+)$")


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str
    seconds: float

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


def recap(output: str) -> dict[str, dict[str, int]]:
    """{host: {ok, changed, unreachable, failed, skipped, rescued, ignored}} from the last PLAY RECAP."""
    if "PLAY RECAP" not in output:
        raise ValueError("no PLAY RECAP in the output")
    section = output.rsplit("PLAY RECAP", 1)[1]
    hosts: dict[str, dict[str, int]] = {}
    for line in section.splitlines():
        match = _RECAP_LINE.match(line.strip())
        if match:
            counts = dict(item.split("=") for item in match["counts"].split())
            hosts[match["host"]] = {key: int(value) for key, value in counts.items()}
    return hosts


def run(command: list[str], timeout: float) -> Run:
    # A pytest run started here (testinfra) is a run of its own, not one of this run's xdist workers.
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_XDIST")}
    env |= {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "ANSIBLE_FORCE_COLOR": "0"}
    env["PYTEST_WORKER_NICE"] = "0"  # its workers keep the lab chain's priority (tests/support/parallel.py)
    started = time.monotonic()
    completed = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return Run(completed.returncode, completed.stdout + completed.stderr, time.monotonic() - started)


def playbook(*args: str, timeout: float = 900) -> Run:
    return run([str(BIN / "ansible-playbook"), "-i", str(INVENTORY), "playbooks/site.yml", *args], timeout)


def record_timing(name: str, seconds: float) -> None:
    """Kept in state/lab/ansible-timings.json for the benchmark figures."""
    timings = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    timings[name] = round(seconds, 1)
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    TIMINGS.write_text(json.dumps(timings, indent=1, sort_keys=True) + "\n")
