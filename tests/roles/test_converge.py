"""The Ansible roles against the real lab: a converge from scratch, a second converge and check mode that change
nothing (run side by side), the testinfra suite (tests/roles/hosts), the firewall's lock-out protection and the
release's nginx drain driver (ansible-lint: tests/roles/test_ansible_lint.py).

The tests run in file order and share one lab; in a full run they are the first to converge it (tests/support/
parallel.py). A lab that has been converged already is rebuilt first (`fab lab.down` + `fab lab.up`), so the first
converge always starts from bare hosts; the lab stays up, converged, afterwards, for the lab tests after these. Each
later test here needs a converged lab and converges it when it is not (run on its own, or after a failed first
converge). While they converge or check, they hold the lab lock shared (lab.up/down take it exclusively)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from foundation.ssh_access import SshAccess
from foundation.transport import SshTransport
from lab.layout import Layout
from lab.plan import HOSTS
from release.balancers import NginxUpstreams
from tests.support.lab import ansible_run, lab_state

pytestmark = [pytest.mark.slow, pytest.mark.lab, pytest.mark.timeout(1200)]
LAYOUT = Layout.default()
TESTINFRA_WORKERS = 3  # its checks wait on SSH and on the hosts, not on this machine's CPU: several at a time


@pytest.fixture(scope="module")
def booted(request: pytest.FixtureRequest) -> Iterator[None]:
    """The lab up; bare (cycled when converged) when the first converge is among the tests to run."""
    if any(item.name == test_first_converge_from_scratch.__name__ for item in request.session.items):
        lab_state.ensure_bare()
    else:
        lab_state.ensure_up()
    with lab_state.held_shared():
        yield


@pytest.fixture
def lab(booted) -> None:
    """A converged lab: the first converge's work, done here when it has not been done (or failed)."""
    if not lab_state.converged():
        run = ansible_run.playbook()
        assert run.returncode == 0, run.tail()


def _assert_clean(run: ansible_run.Run, *, changed: bool) -> dict[str, dict[str, int]]:
    assert run.returncode == 0, run.tail()
    hosts = ansible_run.recap(run.output)
    lab_hosts = {h.name for h in HOSTS}
    assert lab_hosts <= set(hosts), f"hosts missing from the recap: {lab_hosts - set(hosts)}"
    for name, counts in hosts.items():
        assert counts["failed"] == 0 and counts["unreachable"] == 0, (name, counts)
        if not changed:
            assert counts["changed"] == 0, f"{name} changed {counts['changed']} things:\n{run.tail(200)}"
    return hosts


def test_first_converge_from_scratch(booted):
    run = ansible_run.playbook()
    ansible_run.record_timing("first_converge_s", run.seconds)
    hosts = _assert_clean(run, changed=True)
    assert all(counts["changed"] > 0 for name, counts in hosts.items() if name != "localhost")


@pytest.fixture(scope="module")
def second_pass(booted) -> dict[str, ansible_run.Run]:
    """A second converge and a check-mode run with diff, side by side: each must find nothing to change, so neither
    can disturb what the other reads (a change is a failure either way), and each spends its time waiting on SSH."""
    if not lab_state.converged():
        first = ansible_run.playbook()
        assert first.returncode == 0, first.tail()
    with ThreadPoolExecutor(max_workers=2) as pool:
        converge = pool.submit(ansible_run.playbook)
        check = pool.submit(ansible_run.playbook, "--check", "--diff")
        runs = {"converge": converge.result(), "check": check.result()}
    ansible_run.record_timing("idempotent_converge_s", runs["converge"].seconds)
    ansible_run.record_timing("check_mode_s", runs["check"].seconds)
    return runs


def test_second_converge_changes_nothing(second_pass):
    _assert_clean(second_pass["converge"], changed=False)


def test_check_mode_with_diff_changes_nothing(second_pass):
    _assert_clean(second_pass["check"], changed=False)


def test_testinfra_suite_passes(lab):
    masters = Path(tempfile.mkdtemp(prefix="gl-cm-", dir="/tmp"))  # a socket's path is at most 107 bytes
    try:
        run = ansible_run.run(
            [
                str(ansible_run.BIN / "python"),
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "tests/roles/hosts",
                "-n",
                str(TESTINFRA_WORKERS),
                "--hosts=ansible://all",
                f"--ansible-inventory={ansible_run.INVENTORY}",
                f"--ssh-control-dir={masters}",
            ],
            timeout=600,
        )
    finally:
        sockets = list(masters.iterdir())
        closed = [_close_master(socket) for socket in sockets]
        shutil.rmtree(masters, ignore_errors=True)
    assert sockets, "testinfra shared no SSH connection: each check opened its own"
    assert all(closed), "an SSH master of the testinfra run did not close"
    ansible_run.record_timing("testinfra_s", run.seconds)
    assert run.returncode == 0, run.tail(80)
    passed = re.search(r"(\d+) passed", run.output)
    assert passed and int(passed.group(1)) >= 60, run.tail(10)


def _close_master(socket: Path) -> bool:
    """Asks the SSH master behind `socket` to exit (the host name is not used: the socket names the connection)."""
    done = subprocess.run(
        ["ssh", "-o", f"ControlPath={socket}", "-O", "exit", "lab-host"], capture_output=True, timeout=30, check=False
    )
    return done.returncode == 0 or not socket.exists()


def _ssh(host: str, command: str) -> subprocess.CompletedProcess:
    """Over the lab's network, not through the session into the host (which the ruleset's `iif lo` always lets in):
    what a controller reaching port 22 from its address sees, as root through sudo."""
    return subprocess.run(
        ["ssh", "-F", str(LAYOUT.ssh_config), "-o", "ProxyCommand=none", host, f"sudo -n sh -c {shlex.quote(command)}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


# A ruleset whose SSH sources leave the controller out, applied by an Ansible that reaches the host over the network
# (a session from the host's own loopback is never locked out, so the guard lets it through: roles/firewall).
# Its own connection, not a persistent one opened through the session before.
LOCKED_OUT = json.dumps(
    {
        "firewall_ssh_sources": ["198.18.0.99"],
        "ansible_ssh_common_args": f"-F {LAYOUT.ssh_config} -o ProxyCommand=none",
        "ansible_ssh_args": "-o ControlMaster=no -o ControlPath=none",
    }
)


def test_a_ruleset_that_would_shut_the_controller_out_is_refused_before_it_applies(lab):
    run = ansible_run.run(
        [str(ansible_run.BIN / "ansible-playbook"), "playbooks/monitoring.yml", "--tags", "firewall", "-e", LOCKED_OUT],
        timeout=300,
    )
    assert run.returncode != 0
    assert "would lock it out" in run.output, run.tail()
    assert "198.18.0.99" not in _ssh("monitoring", "cat /etc/nftables.conf; nft list ruleset").stdout


def test_a_ruleset_that_shuts_the_controller_out_rolls_itself_back(lab):
    run = ansible_run.run(
        [
            str(ansible_run.BIN / "ansible-playbook"),
            "playbooks/monitoring.yml",
            "--tags",
            "firewall",
            "-e",
            LOCKED_OUT,
            "-e",
            '{"firewall_check_controller_address": false, "firewall_confirm_seconds": 10, '
            '"firewall_confirm_connect_timeout": 5}',
        ],
        timeout=300,
    )
    assert run.returncode != 0
    assert "The controller can still open SSH connections" in run.output, run.tail()
    deadline = time.monotonic() + 60
    while _ssh("monitoring", "true").returncode != 0:
        assert time.monotonic() < deadline, "the controller is still locked out of monitoring after 60 s"
        time.sleep(2)
    state = _ssh("monitoring", "nft list set inet golive ssh_sources; cat /etc/nftables.conf; ls /etc/").stdout
    assert "198.18.0.1" in state and "198.18.0.99" not in state  # live ruleset and file both restored
    assert "nftables.conf." not in state  # no backup left behind
    again = ansible_run.run(
        [str(ansible_run.BIN / "ansible-playbook"), "playbooks/monitoring.yml", "--tags", "firewall"], timeout=300
    )
    assert again.returncode == 0 and ansible_run.recap(again.output)["monitoring"]["changed"] == 0, again.tail()


def test_the_release_drains_and_undrains_through_the_lb_host(lab):
    driver = NginxUpstreams(SshTransport("lb", SshAccess(ssh_config=LAYOUT.ssh_config)), wait_seconds=5)
    try:
        driver.drain("web1")
        assert driver.status("web1") == "drained"
        driver.drain("web1")  # idempotent
        assert driver.status("web2") == "up"
        # A converge during a release leaves the drained host drained, and changes nothing.
        converge = ansible_run.run(
            [str(ansible_run.BIN / "ansible-playbook"), "playbooks/lb.yml", "--tags", "nginx"], timeout=300
        )
        assert converge.returncode == 0 and ansible_run.recap(converge.output)["lb"]["changed"] == 0, converge.tail()
        assert driver.status("web1") == "drained"
    finally:
        driver.undrain("web1")
    assert driver.status("web1") == "up"
