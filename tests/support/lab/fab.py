"""Running `fab lab.*` as a user would, and looking at what the lab left on the machine."""

from __future__ import annotations

import json
import os
import pwd
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from foundation.repository import REPO_ROOT
from lab.layout import Layout
from lab.plan import BRIDGE, HOSTS, RULE_PRIORITY


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str
    seconds: float


def fab(*args: str, env: dict[str, str] | None = None, user: str | None = None, timeout: float = 1500) -> Run:
    command = [sys.executable, "-m", "fabric", *args]
    env = {**os.environ, "COLUMNS": "160", **(env or {})}
    if user is not None:
        account = pwd.getpwnam(user)
        command = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--clear-groups", *command]
        env |= {"HOME": account.pw_dir, "USER": user}
    started = time.monotonic()
    completed = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(completed.returncode, completed.stdout + completed.stderr, time.monotonic() - started)


def as_root(host: str, script: str) -> list[str]:
    """`script` as root on a lab host, the way an admin runs one: logged in as the login user, root through sudo."""
    return ["ssh", "-F", str(Layout.default().ssh_config), host, f"sudo -n bash -c {shlex.quote(script)}"]


def ssh(host: str, script: str, timeout: float = 30) -> str:
    completed = subprocess.run(
        as_root(host, script),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, f"ssh {host} {script!r}: {completed.returncode}\n{completed.stderr}"
    return completed.stdout


def nspawn_pids() -> dict[str, int]:
    layout = Layout.default()
    found = {}
    for host in HOSTS:
        path = layout.pid_file(host.name)
        if path.exists():
            found[host.name] = int(path.read_text().split()[0])
    return found


def leftovers() -> list[str]:
    """Everything of the lab's still on the machine: namespaces, links, mounts, the routing rule."""
    ours = {h.netns for h in HOSTS}
    names = {e["name"] for e in json.loads(_output(["ip", "-j", "netns", "list"]) or "[]")}
    links = {e["ifname"] for e in json.loads(_output(["ip", "-j", "link", "show"]))}
    found = [f"netns {n}" for n in names & ours]
    found += [f"link {n}" for n in links if n == BRIDGE or n in {h.veth for h in HOSTS}]
    runtime = str(Layout.default().runtime)
    found += [f"mount {line.split()[1]}" for line in Path("/proc/mounts").read_text().splitlines() if runtime in line]
    found += [f"rule {line}" for line in _output(["ip", "rule"]).splitlines() if line.startswith(f"{RULE_PRIORITY}:")]
    return found


def _output(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout
