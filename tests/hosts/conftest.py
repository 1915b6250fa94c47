"""testinfra checks of converged hosts, over SSH. Run against the lab:

    .venv/bin/pytest tests/hosts --hosts=ansible://all --ansible-inventory=state/lab/inventory.ini

or staging/production with their inventory (state/<env>/inventory.ini; modules whose group has no host there
select nothing). Without --hosts this folder is not collected: its checks mean nothing on the controller.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

import pytest
import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner

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


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.name.startswith("test_") and not config.getoption("hosts", None):
        return True
    return None


@cache
def _runner(inventory: str) -> AnsibleRunner:
    return AnsibleRunner(inventory)


@pytest.fixture(scope="session")
def inventory(request: pytest.FixtureRequest) -> AnsibleRunner:
    path = request.config.getoption("ansible_inventory")
    if not path:
        pytest.fail("pass --ansible-inventory=state/<env>/inventory.ini")
    return _runner(path)


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
        runner = _runner(request.config.getoption("ansible_inventory"))
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
