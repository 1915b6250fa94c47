"""`fab release` of the deployed version onto a fleet with a host behind it (replaced or added: no release) brings
that host to it and touches no other. The engine reads the real hosts' state through the fleet (web hosts that answer
from a table); every handler records what it was asked to do instead of doing it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from foundation.holds import held_release
from foundation.reporter import Reporter
from foundation.state import StateLayout
from release import engine as engine_module
from release.engine import HANDLERS, Engine
from release.exit_codes import ExitCode
from release.plan import Action
from tests.release.test_engine_dispatch import lab, no_checks, said_steps
from tests.support.fleet_states import NO_RELEASE, ON_R2, ON_R3, answering


class _V3:
    version, git_sha, dirty = "v3", "3" * 40, False


class Hosts:
    """An engine over web1 on r3 and web2 as given; the steps it ran, as described; what it said."""

    def __init__(self, tmp_path: Path, monkeypatch, web2=NO_RELEASE, fail_on: Action | None = None):
        self.ran: list[str] = []
        self.fail_on = fail_on
        for action in Action:
            monkeypatch.setitem(HANDLERS, action, self._handle)
        monkeypatch.setattr(engine_module.artifacts, "resolve_version", lambda repo, ref: _V3())
        self.output = io.StringIO()
        self.engine = Engine(
            lab(tmp_path), "postgresql://u@127.0.0.1:1/x", reporter=Reporter(Console(file=self.output, width=300)),
            state=StateLayout(tmp_path), run_checks=no_checks, owner="ops@controller",
        )  # fmt: skip
        self.engine.fleet.transports.update(answering(self.engine.env, {"web1": ON_R3, "web2": web2}))

    def _handle(self, engine, step, run) -> None:
        self.ran.append(step.describe())
        if step.action == Action.LOCK:
            run.record["lock_fence"] = 1
        if step.action == Action.DRAIN:
            run.drained.append(step.host)
        if step.action == Action.UNDRAIN:
            run.drained.remove(step.host)
        if step.action == self.fail_on:
            raise RuntimeError(f"{step.action} failed on {step.host}")

    def said(self) -> str:
        return self.output.getvalue()


def test_the_deployed_version_again_brings_the_host_without_a_release_to_it(tmp_path, monkeypatch):
    hosts = Hosts(tmp_path, monkeypatch)
    assert hosts.engine.release("v3") == ExitCode.OK
    assert "nothing to do" not in hosts.said()
    assert not any("web1" in step for step in hosts.ran), "web1 is on r3: untouched"
    assert [step.split(" ")[0] for step in hosts.ran if "web2" in step] == [
        "reach", "upload", "unpack", "install", "drain", "switch", "restart", "health", "restart", "undrain",
    ]  # fmt: skip
    assert "switch [web2/r3]: current -> releases/r3" in hosts.ran and hosts.ran[-2].startswith("smoke")
    assert said_steps(hosts.said()) == hosts.ran
    record = hosts.engine.audit.entries()[-1]
    assert record["kind"] == "catch-up" and record["outcome"] == "caught up" and record["exit_code"] == 0
    assert record["release_id"] == "r3" and record["behind"] == {"web2": None}


def test_dry_run_shows_the_catch_up_and_does_nothing(tmp_path, monkeypatch):
    hosts = Hosts(tmp_path, monkeypatch, web2=ON_R2)
    released = {"kind": "release", "release_id": "r3", "previous": "r2", "outcome": "released"}
    hosts.engine.audit.append(released)  # which of r2 and r3 is the fleet's: the audit log says
    assert hosts.engine.release("v3", dry_run=True) == ExitCode.OK
    assert hosts.ran == [] and len(hosts.engine.audit.entries()) == 1
    said = hosts.said()
    assert "catch-up v3 to lab as r3 (the release the fleet is on)" in said
    assert "switch [web2/r3]" in said and "switch [web1" not in said
    assert "web2 is behind (has r2, fleet is on r3): brought to r3" in said and "web1: on r3, untouched" in said


def test_a_catch_up_that_fails_rolls_nothing_back_and_leaves_the_host_out_of_the_balancer(tmp_path, monkeypatch):
    hosts = Hosts(tmp_path, monkeypatch, fail_on=Action.HEALTH)
    assert hosts.engine.release("v3") == ExitCode.FAILED
    assert not any("web1" in step for step in hosts.ran), "no recovery moves the hosts already on the release"
    assert "catch-up failed: health failed on web2; web2 left out of the balancer" in hosts.said()
    record = hosts.engine.audit.entries()[-1]
    assert record["outcome"] == "catch-up failed" and "health failed on web2" in record["error"]


def test_a_catch_up_during_a_hold_keeps_the_hold(tmp_path, monkeypatch):
    hosts = Hosts(tmp_path, monkeypatch)
    hosts.engine.audit.append(
        {"kind": "release", "release_id": "r3", "version": "v3", "previous": "r2", "outcome": "held", "hold": {}}
    )
    assert hosts.engine.release("v3") == ExitCode.OK
    assert held_release(hosts.engine.audit)["release_id"] == "r3", "`fab promote` still finds the held release"


@pytest.mark.parametrize("web2", [NO_RELEASE, ON_R2])
def test_another_version_while_a_host_is_behind_is_refused_before_anything(tmp_path, monkeypatch, web2):
    hosts = Hosts(tmp_path, monkeypatch, web2=web2)
    monkeypatch.setattr(
        engine_module.artifacts, "resolve_version", lambda repo, ref: type("V4", (_V3,), {"version": "v4"})
    )
    if web2 is ON_R2:  # which release is the fleet's: the audit log says
        hosts.engine.audit.append({"kind": "release", "release_id": "r3", "previous": "r2", "outcome": "released"})
    assert hosts.engine.release("v4") == ExitCode.REFUSED
    assert hosts.ran == []
    assert "web2 is behind" in hosts.said() and "fab release --env lab --version v3" in hosts.said()
