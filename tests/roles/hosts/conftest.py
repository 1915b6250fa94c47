"""testinfra checks of converged hosts, over SSH. Run against the lab:

    .venv/bin/pytest tests/roles/hosts --hosts=ansible://all --ansible-inventory=state/lab/inventory.ini

(or with --ansible-inventory alone: each module names its group in testinfra_hosts), or staging/production
with their inventory (state/<env>/inventory.ini; modules whose group has no host there select nothing).
Without --ansible-inventory this folder is not collected: its checks mean nothing on the controller.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner

# testinfra runs ansible-inventory: the one installed beside this interpreter, venv activated or not.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

PROBE = """
import socket, sys
s = socket.socket()
s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("open")
except ConnectionRefusedError:
    print("refused")
except TimeoutError:
    print("timeout")
except OSError as e:
    print("error " + str(e))
"""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--ssh-control-dir",
        metavar="DIR",
        help="one SSH connection per host for all of its checks, its master's socket in DIR (a short path: a socket's "
        "is at most 107 bytes); whoever passes it closes the masters afterwards (ssh -O exit)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """testinfra opens a new SSH connection per command (its ControlMaster has no ControlPath) unless Ansible's
    configuration names one: name it, on the runner testinfra itself will use for this inventory."""
    folder, inventory = config.getoption("ssh_control_dir", None), config.getoption("ansible_inventory", None)
    if not folder or not inventory:
        return
    settings = AnsibleRunner.get_runner(inventory).ansible_config
    for section in ("ssh_connection", "persistent_connection"):
        if not settings.has_section(section):
            settings.add_section(section)
    settings.set("ssh_connection", "control_path", "%(directory)s/%%C")  # as in ansible.cfg; %C: host, port, user
    settings.set("persistent_connection", "control_path_dir", str(folder))


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if not collection_path.name.startswith("test_"):
        return None
    inventory = config.getoption("ansible_inventory", None)
    if not inventory:
        return True
    if not Path(inventory).exists():
        raise pytest.UsageError(f"no inventory at {inventory} (the lab: is it up? `.venv/bin/fab lab.up`)")
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """--hosts overrides a module's testinfra_hosts: keep each module's checks to the hosts of its group."""
    inventory = config.getoption("ansible_inventory", None)
    if not inventory or not config.getoption("hosts", None):
        return
    runner = AnsibleRunner.get_runner(inventory)
    keep, drop = [], []
    for item in items:
        host = getattr(getattr(item, "callspec", None), "params", {}).get("_testinfra_host")
        wanted = getattr(item.module, "testinfra_hosts", None)
        if host is None or not wanted:
            keep.append(item)
            continue
        members = {name for spec in wanted for name in runner.get_hosts(spec.removeprefix("ansible://"))}
        (keep if host.backend.get_hostname() in members else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def inventory(request: pytest.FixtureRequest) -> AnsibleRunner:
    path = request.config.getoption("ansible_inventory")
    if not path:
        pytest.fail("pass --ansible-inventory=state/<env>/inventory.ini")
    return AnsibleRunner.get_runner(path)


@pytest.fixture(scope="session")
def addresses(inventory: AnsibleRunner):
    """group -> the addresses of its hosts (ansible_host)."""

    def of(group: str) -> list[str]:
        return [inventory.get_variables(name).get("ansible_host", name) for name in inventory.get_hosts(group)]

    return of


@pytest.fixture(scope="session")
def group_host(request: pytest.FixtureRequest):
    """A testinfra host for the first member of a group (skips when the inventory has none)."""

    def get(group: str):
        runner = AnsibleRunner.get_runner(request.config.getoption("ansible_inventory"))
        names = runner.get_hosts(group)
        if not names:
            pytest.skip(f"the inventory has no {group} host")
        return testinfra.get_host(
            f"ansible://{names[0]}", ansible_inventory=request.config.getoption("ansible_inventory")
        )

    return get


def connect(source, address: str, port: int, timeout: float = 3) -> str:
    """From `source` (a testinfra host): open, refused, timeout or error <reason>."""
    return source.check_output("python3 -c %s %s %s %s", PROBE, address, str(port), str(timeout))


def controller_connect(address: str, port: int, timeout: float = 3) -> str:
    completed = subprocess.run(
        ["python3", "-c", PROBE, address, str(port), str(timeout)], capture_output=True, text=True, check=True
    )
    return completed.stdout.strip()
