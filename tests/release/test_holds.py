"""A release whose only open boxes after the switch are a person's is held (exit 3), not rolled back; `fab promote`
finishes it in a later process once they are signed. The engine is driven without hosts: every handler but the
checks step records what it was asked to do; the checks step is the real one, given a phase's verdict."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from foundation.fleet import Deployed
from foundation.holds import held_release
from foundation.reporter import Reporter
from foundation.state import StateLayout
from release import engine as engine_module
from release.engine import HANDLERS, Engine
from release.exit_codes import ExitCode
from release.plan import Action, phases_as_data, phases_from_data, plan_promote, plan_release, remainder
from release.run import GateHeld
from release.steps import preflight
from tests.release.test_engine_dispatch import DEPLOYED, _Resolved, lab

UNSIGNED = {"needs_signoff": ["post-1-6", "post-4-6"]}


class World:
    """The engine of one `fab` process over a fleet that answers as `current`; every step it ran, as described."""

    def __init__(self, tmp_path: Path, monkeypatch, verdicts: dict[str, tuple[dict, list[str]]], fail_on=None):
        self.env, self.tmp_path, self.monkeypatch = lab(tmp_path), tmp_path, monkeypatch
        self.verdicts, self.fail_on, self.current = verdicts, fail_on, DEPLOYED.current
        self.ran: list[str] = []
        self.fences = 0
        self.inconclusive = False
        for action in Action:
            monkeypatch.setitem(HANDLERS, action, self._handle)
        monkeypatch.setattr(engine_module.Fleet, "deployed", lambda _fleet, **_: self.deployed())
        monkeypatch.setattr(engine_module.artifacts, "resolve_version", lambda repo, ref: _Resolved())

    def deployed(self) -> Deployed:
        return replace(DEPLOYED, current=self.current, current_version=None, drained=())

    def _handle(self, engine, step, run) -> None:
        self.ran.append(step.describe())
        if step.action == Action.LOCK:
            self.fences += 1
            run.record["lock_fence"] = self.fences
        if step.action == Action.SWITCH:
            self.current = step.target
            if step.target == run.plan.release_id:
                run.switched.append(step.host)
        if step.action == Action.CHECKS:
            preflight.checks(engine, step, run)
        if self.fail_on and step.action == self.fail_on:
            raise RuntimeError(f"{step.action} failed")
        if step.action == Action.OBSERVE and self.inconclusive:
            raise GateHeld("gates inconclusive (too few samples)")

    def run_checks(self, phase: str, record: dict) -> tuple[dict, list[str]]:
        return self.verdicts.get(phase, ({}, []))

    def engine(self) -> Engine:
        """A new engine, as a later `fab` process builds one: nothing but the audit log carries the hold."""
        self.output = io.StringIO()
        reporter = Reporter(Console(file=self.output, width=300))
        return Engine(
            self.env, "postgresql://u@127.0.0.1:1/x", reporter=reporter,
            state=StateLayout(self.tmp_path), run_checks=self.run_checks, owner="ops@controller",
        )  # fmt: skip

    def said(self) -> str:
        return self.output.getvalue()


def _unsigned(*items: str, failed: tuple[str, ...] = ()) -> tuple[dict, list[str]]:
    return {"needs_signoff": list(items)}, [*failed, *items]


def test_a_post_deploy_box_only_a_person_can_tick_holds_the_release_instead_of_rolling_it_back(tmp_path, monkeypatch):
    world = World(tmp_path, monkeypatch, {"post-deploy": _unsigned("post-1-6", "post-4-6")})
    engine = world.engine()
    assert engine.release("v4") == ExitCode.HELD
    assert "held for sign-off: post-deploy boxes post-1-6, post-4-6 are not signed" in world.said()
    assert "fab promote --env lab" in world.said()
    record = engine.audit.entries()[-1]
    assert record["outcome"] == "held" and record["exit_code"] == 3
    assert record["hold"]["waiting_for"] == ["post-1-6", "post-4-6"] and record["hold"]["phase"] == "verify"
    assert world.current == record["release_id"], "the release stays deployed"
    assert not any(line.startswith("observe") for line in world.ran), "nothing after the held step ran"
    assert world.ran[-1].startswith("checks [post-deploy]")
    resume = phases_from_data(record["hold"]["resume"])
    assert [phase.name for phase in resume] == ["verify", "gates", "finish"]
    assert resume[0].steps[0].target == "post-deploy" and resume[-1].steps[-1].action == Action.UNLOCK
    assert held_release(engine.audit)["release_id"] == record["release_id"]


def test_a_failed_automated_check_still_rolls_back_even_beside_unsigned_boxes(tmp_path, monkeypatch):
    world = World(tmp_path, monkeypatch, {"post-deploy": _unsigned("post-1-6", failed=("post-2-1",))})
    engine = world.engine()
    assert engine.release("v4") == ExitCode.FAILED
    record = engine.audit.entries()[-1]
    assert record["outcome"] == "rolled back" and "post-2-1" in record["error"] and "hold" not in record
    assert world.current == DEPLOYED.current
    assert held_release(engine.audit) is None


def test_an_unsigned_pre_deploy_box_refuses_before_any_change(tmp_path, monkeypatch):
    world = World(tmp_path, monkeypatch, {"pre-deploy": _unsigned("pre-1-6")})
    engine = world.engine()
    assert engine.release("v4") == ExitCode.REFUSED
    assert "pre-deploy boxes wait for a sign-off: pre-1-6" in world.said()
    assert engine.audit.entries()[-1]["outcome"] == "refused" and world.current == DEPLOYED.current
    assert not any(line.startswith("switch") for line in world.ran)


def test_promote_finishes_the_held_release_once_signed(tmp_path, monkeypatch):
    world = World(tmp_path, monkeypatch, {"post-deploy": _unsigned("post-1-6")})
    assert world.engine().release("v4") == ExitCode.HELD
    held = world.engine().audit.entries()[-1]
    world.ran.clear()
    world.verdicts["post-deploy"] = ({"needs_signoff": [], "signed_off": {"post-1-6": "by Amina"}}, [])
    engine = world.engine()
    assert engine.promote() == ExitCode.OK
    steps = [re.sub(r"\[(\w+)/\S+\]", r"[\1]", line) for line in world.ran]
    assert steps[0].startswith("lock") and steps[1].startswith("checks [post-deploy]")
    assert steps[2].startswith("observe") and steps[-1] == "unlock"
    assert not any(line.startswith(("switch", "migrate", "backup", "smoke")) for line in steps)
    record = engine.audit.entries()[-1]
    assert record["kind"] == "release" and record["outcome"] == "released" and record["promoted_from"] == held["seq"]
    assert record["release_id"] == held["release_id"] and record["by"] == "ops@controller"
    assert record["lock_fence"] != held["lock_fence"], "the promote took the lock again"
    assert record["checks"]["post-deploy"]["signed_off"] == {"post-1-6": "by Amina"}
    assert held_release(engine.audit) is None
    assert "promote v4 to lab as" in world.said()
    assert world.engine().promote() == ExitCode.REFUSED, "nothing is held any more"


def test_promote_while_still_unsigned_stays_held_and_names_the_boxes(tmp_path, monkeypatch):
    world = World(tmp_path, monkeypatch, {"post-deploy": _unsigned("post-1-6", "post-4-6")})
    assert world.engine().release("v4") == ExitCode.HELD
    world.verdicts["post-deploy"] = _unsigned("post-4-6")
    engine = world.engine()
    assert engine.promote() == ExitCode.HELD
    assert "post-deploy boxes post-4-6 are not signed" in world.said()
    again = engine.audit.entries()[-1]
    assert again["outcome"] == "held" and again["hold"]["waiting_for"] == ["post-4-6"]
    assert held_release(engine.audit)["seq"] == again["seq"], "a later promote finds the new hold"
    assert world.current == again["release_id"]
    world.verdicts["post-deploy"] = ({}, [])
    assert world.engine().promote() == ExitCode.OK


def test_promote_whose_gate_fails_rolls_the_fleet_back(tmp_path, monkeypatch):
    world = World(tmp_path, monkeypatch, {"post-deploy": _unsigned("post-1-6")})
    assert world.engine().release("v4") == ExitCode.HELD
    world.verdicts["post-deploy"] = ({}, [])
    world.fail_on = Action.OBSERVE
    engine = world.engine()
    assert engine.promote() == ExitCode.FAILED
    record = engine.audit.entries()[-1]
    assert record["outcome"] == "rolled back" and record["rolled_back_to"] == DEPLOYED.current
    assert world.current == DEPLOYED.current
    assert any(line.startswith(f"previous [web1/{DEPLOYED.previous}]") for line in world.ran)


def test_promote_refuses_when_nothing_is_held(tmp_path, monkeypatch):
    world = World(tmp_path, monkeypatch, {})
    engine = world.engine()
    assert engine.promote() == ExitCode.REFUSED
    assert "no release of lab is held for a person: nothing to promote" in world.said()
    assert world.ran == [] and engine.audit.entries() == []


def test_promote_refuses_a_hold_the_fleet_has_left(tmp_path, monkeypatch):
    world = World(tmp_path, monkeypatch, {"post-deploy": _unsigned("post-1-6")})
    assert world.engine().release("v4") == ExitCode.HELD
    held = world.engine().audit.entries()[-1]
    world.current = DEPLOYED.current  # someone switched the fleet by hand
    engine = world.engine()
    assert engine.promote() == ExitCode.REFUSED
    assert f"the held release {held['release_id']} is no longer current ({DEPLOYED.current} is)" in world.said()
    world.current = held["release_id"]
    assert world.engine().rollback(drain=False) == ExitCode.OK
    assert world.engine().promote() == ExitCode.REFUSED, "a rollback ends the hold"


def test_what_is_left_of_a_plan_round_trips_as_plain_data(tmp_path):
    env = lab(tmp_path)
    plan = plan_release(env, version="v4", release_id="r4", deployed=DEPLOYED)
    verify = next(phase for phase in plan.phases if phase.name == "verify")
    rest = remainder(plan, verify, verify.steps[1])
    assert rest[0].steps == verify.steps[1:] and rest[1:] == plan.phases[-2:]
    data = phases_as_data(rest)
    assert phases_from_data(json.loads(json.dumps(data))) == rest
    promote = plan_promote(env, version="v4", release_id="r4", previous="r3", resume=rest)
    assert promote.phases[0].steps[0].action == Action.LOCK and not promote.phases[0].changes
    assert promote.phases[1:] == rest and promote.notes[0].startswith("on a failure: every web host back to r3")


def test_a_release_held_by_inconclusive_gates_is_promoted_by_watching_them_again(tmp_path, monkeypatch):
    world = World(tmp_path, monkeypatch, {})
    world.inconclusive = True
    engine = world.engine()
    assert engine.release("v4") == ExitCode.HELD
    assert "held for a person: gates inconclusive" in world.said()
    assert engine.audit.entries()[-1]["hold"]["waiting_for"] == []
    world.inconclusive = False
    world.ran.clear()
    assert world.engine().promote() == ExitCode.OK
    assert world.ran[1].startswith("observe") and world.ran[-1] == "unlock"


def test_releasing_the_held_version_again_says_it_is_held(tmp_path, monkeypatch):
    world = World(tmp_path, monkeypatch, {"post-deploy": _unsigned("post-1-6")})
    assert world.engine().release("v4") == ExitCode.HELD
    held = world.engine().audit.entries()[-1]
    monkeypatch.setattr(World, "deployed", lambda self: replace(DEPLOYED, current=self.current, current_version="v4"))
    monkeypatch.setattr(engine_module.Fleet, "not_serving", lambda _fleet, release: [])  # every instance serves it
    world.ran.clear()
    engine = world.engine()
    assert engine.release("v4") == ExitCode.HELD
    assert f"{held['release_id']} is held for a person: `fab promote --env lab` finishes it" in world.said()
    assert world.ran == [] and engine.audit.entries()[-1]["seq"] == held["seq"]
