"""The lab's nginx drain driver: the exact commands it runs on the lb host, how it reports a failure, and
that the lab environment gets it (the commands run for real in tests/roles/test_converge.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from foundation.environment import load_environment
from foundation.transport import CommandFailed, CommandResult, HostUnreachable
from lab.outputs import DRAIN_SECONDS
from release.balancers import BalancerUnavailable, NginxUpstreams, balancer_for


class Recorder:
    host = "lb"

    def __init__(self, output: str = "", fail: Exception | None = None):
        self.commands: list[tuple[str, float]] = []
        self._output, self._fail = output, fail

    def run(self, command: str, *, env=None, timeout: float = 600, check: bool = True) -> CommandResult:
        self.commands.append((command, timeout))
        if self._fail is not None:
            raise self._fail
        return CommandResult(0, self._output)

    def put(self, local: Path, remote: str) -> None:
        raise AssertionError("the driver uploads nothing")


def test_drain_runs_the_script_and_waits_for_old_workers():
    transport = Recorder("web1 drained\n")
    NginxUpstreams(transport, wait_seconds=7, timeout=30).drain("web1")
    assert transport.commands == [("sudo -n /usr/local/sbin/golive-upstream drain web1 --wait 7", 30)]


def test_undrain_runs_the_script_without_waiting():
    transport = Recorder("web2 up\n")
    NginxUpstreams(transport).undrain("web2")
    assert transport.commands == [("sudo -n /usr/local/sbin/golive-upstream undrain web2", 60)]


def test_status_reads_the_last_word():
    assert NginxUpstreams(Recorder("web1 drained\n")).status("web1") == "drained"
    assert NginxUpstreams(Recorder("web1 up\n")).status("web1") == "up"


def test_a_host_name_is_quoted_for_the_shell():
    driver = NginxUpstreams(Recorder())
    assert driver.command("drain", "web1; reboot") == (
        "sudo -n /usr/local/sbin/golive-upstream drain 'web1; reboot' --wait 15"
    )


def test_an_unknown_action_is_refused():
    with pytest.raises(ValueError, match="unknown balancer action"):
        NginxUpstreams(Recorder()).command("delete", "web1")


def test_a_refusal_on_the_lb_host_names_host_and_action():
    failed = CommandFailed("lb", "golive-upstream drain web2", 3, "refusing to drain web2: it is the last upstream")
    with pytest.raises(BalancerUnavailable, match=r"(?s)on lb could not drain web2: .*last upstream"):
        NginxUpstreams(Recorder(fail=failed)).drain("web2")


def test_an_unreachable_lb_host_is_a_balancer_error():
    with pytest.raises(BalancerUnavailable, match="unreachable"):
        NginxUpstreams(Recorder(fail=HostUnreachable("lb: timed out"))).undrain("web1")


def test_the_lab_drives_nginx_on_its_lb_host(lab_state):
    transport = Recorder("web1 up\n")
    driver = balancer_for(load_environment("lab", state=lab_state), client=transport)
    assert isinstance(driver, NginxUpstreams)
    driver.undrain("web1")
    assert transport.commands[0][0].endswith("golive-upstream undrain web1")


def test_the_drain_waits_as_long_as_the_stack_outputs_say(lab_state):
    env = load_environment("lab", state=lab_state)
    assert env.outputs["drain_seconds"] == DRAIN_SECONDS
    transport = Recorder()
    balancer_for(replace(env, outputs={**env.outputs, "drain_seconds": 4}), client=transport).drain("web2")
    assert transport.commands[0][0].endswith("golive-upstream drain web2 --wait 4")


def test_the_lab_without_a_client_reaches_lb_over_ssh(tmp_path, lab_state):
    (tmp_path / "state" / "lab").mkdir(parents=True)
    (tmp_path / "state" / "lab" / "ssh_config").write_text("Host lb\n  HostName 198.18.0.10\n  User root\n")
    driver = balancer_for(load_environment("lab", repo=tmp_path, state=lab_state))
    assert isinstance(driver, NginxUpstreams)
    assert driver._transport.host == "lb"


def test_the_lab_down_is_a_clear_refusal(tmp_path, lab_state):
    with pytest.raises(BalancerUnavailable, match=r"no SSH configuration at .*ssh_config to reach lb \(is the lab up"):
        balancer_for(load_environment("lab", repo=tmp_path, state=lab_state))


def test_an_nginx_environment_needs_one_lb_host(lab_state):
    env = load_environment("lab", state=lab_state)
    env = type(env)(**{**env.__dict__, "hosts": {"web": ("web1",)}})
    with pytest.raises(BalancerUnavailable, match="exactly one lb host"):
        balancer_for(env)
