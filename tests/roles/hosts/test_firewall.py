"""The firewall really blocks: connections from the wrong host to a port that IS listening are refused
(the lab rejects) or time out, while the same port answers the right host."""

from __future__ import annotations

import time

import pytest

from tests.roles.hosts.conftest import connect, controller_connect

BLOCKED = ("refused", "timeout")


@pytest.fixture(scope="module")
def web(group_host):
    return group_host("web")


@pytest.fixture(scope="module")
def web_listening(web, addresses):
    """Something listens on the web host's service port (the service when a release is deployed, else a
    throwaway listener for the duration of these checks)."""
    address = addresses("web")[0]
    if web.socket("tcp://0.0.0.0:8000").is_listening:
        yield address
        return
    web.check_output("systemd-run --unit=golive-firewall-probe --collect python3 -m http.server 8000 --bind 0.0.0.0")
    deadline = time.monotonic() + 10
    while not web.socket("tcp://0.0.0.0:8000").is_listening and time.monotonic() < deadline:
        time.sleep(0.2)
    yield address
    web.run("systemctl stop golive-firewall-probe.service")


def test_db_takes_postgresql_from_web_hosts_only(group_host, addresses):
    db = addresses("db")
    if not db:
        pytest.skip("no db host (RDS: its security group is checked by infra/)")
    assert connect(group_host("web"), db[0], 5432) == "open"
    assert connect(group_host("lb"), db[0], 5432) in BLOCKED
    assert connect(group_host("partners"), db[0], 5432) in BLOCKED


def test_web_takes_the_service_port_from_the_balancer_not_the_controller(group_host, web_listening):
    assert connect(group_host("lb"), web_listening, 8000) == "open"
    assert controller_connect(web_listening, 8000) in BLOCKED  # the release reaches it through SSH forwards
    assert connect(group_host("partners"), web_listening, 8000) in BLOCKED
    assert connect(group_host("db"), web_listening, 8000) in BLOCKED


def test_ssh_only_from_the_controller(group_host, addresses):
    for group, source in (("web", "lb"), ("db", "partners"), ("lb", "web")):
        target = addresses(group)
        if not target or not addresses(source):
            continue
        assert controller_connect(target[0], 22) == "open", f"controller -> {group}:22"
        assert connect(group_host(source), target[0], 22) in BLOCKED, f"{source} -> {group}:22"


def test_the_balancer_takes_https_from_anywhere(group_host, addresses):
    lb = addresses("lb")
    if not lb:
        pytest.skip("no lb host (the ALB is checked by infra/)")
    assert connect(group_host("partners"), lb[0], 443) == "open"
    assert controller_connect(lb[0], 443) == "open"
    assert controller_connect(lb[0], 80) == "open"


def test_partners_take_simulator_ports_from_web_hosts_only(group_host, addresses):
    partners = addresses("partners")
    if not partners:
        pytest.skip("no partners host (lab only)")
    assert connect(group_host("web"), partners[0], 8100) == "open"
    assert connect(group_host("web"), partners[0], 8545) == "open"
    assert connect(group_host("db"), partners[0], 8100) in BLOCKED
    assert connect(group_host("lb"), partners[0], 8545) in BLOCKED
