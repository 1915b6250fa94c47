"""The plan is the program: every action a plan can hold has one handler in the engine's dispatch table, and the
engine runs exactly the plan's steps, in order, saying each as --dry-run described it."""

from __future__ import annotations

import io
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from foundation.environment import known_environments, load_environment
from foundation.fleet import Deployed
from foundation.reporter import Reporter
from foundation.repository import REPO_ROOT
from foundation.state import StateLayout
from release import engine as engine_module
from release.engine import HANDLERS, Engine
from release.exit_codes import ExitCode
from release.plan import Action, Plan, Step, plan_recovery, plan_release, plan_rollback
from release.run import Run
from tests.support.lab_outputs import lab_state_in


def no_checks(phase: str, record: dict) -> tuple[dict, list[str]]:
    return {}, []


DEPLOYED = Deployed("r3", "v3", "r2", ("r1", "r2", "r3"), drained=("web2",))
MANY = Deployed("r7", "v7", "r6", tuple(f"r{n}" for n in range(1, 8)))


def every_environment(tmp_path: Path):
    """local, lab from the outputs `fab lab.up` writes, and staging/production from the Pulumi program's example
    outputs."""
    state = lab_state_in(tmp_path / "state")
    for name in known_environments():
        if name in ("staging", "production"):
            state.stack_outputs(name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO_ROOT / "infra" / "examples" / f"{name}-outputs.json", state.stack_outputs(name))
        yield load_environment(name, state=state)


def every_plan(tmp_path: Path) -> list[Plan]:
    plans = []
    for env in every_environment(tmp_path):
        release = plan_release(env, version="v4", release_id="r4", deployed=DEPLOYED)
        plans += [release, plan_rollback(env, deployed=DEPLOYED), plan_rollback(env, deployed=DEPLOYED, drain=False)]
        plans.append(plan_recovery(env, release, prior_previous="r2", switched=True, drained=("web2",), restore="b"))
        with_host_backup = replace(env, backup_host=env.hosts["db"][0]) if env.hosts.get("db") else env
        plans.append(plan_release(with_host_backup, version="v8", release_id="r8", deployed=MANY))
    return plans


def test_every_action_has_exactly_one_handler():
    assert set(HANDLERS) == set(Action)


def test_every_step_any_plan_holds_is_handled(tmp_path):
    plans = every_plan(tmp_path)
    emitted = {step.action for plan in plans for step in plan.steps()}
    assert emitted <= set(HANDLERS)
    assert emitted == set(Action), f"actions no plan emits: {set(Action) - emitted}"


def test_an_action_is_one_of_the_enumerated_ones():
    with pytest.raises(ValueError, match="'deploy_everything' is not a valid Action"):
        Action("deploy_everything")


def lab(tmp_path: Path):
    """The lab's description, its ssh_config a file of this test's (the engine reads it for its transports)."""
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text("Host *\n    User deploy\n")
    return replace(load_environment("lab", state=lab_state_in(tmp_path / "state")), ssh_config=ssh_config)


def said_steps(output: str) -> list[str]:
    """The engine's step lines (`  ✓ <step> (0.0 s)`), as --dry-run described them."""
    return [match.group(1) for match in re.finditer(r"^  [✓✗] (.*) \(\d+\.\d s\)$", output, re.M)]


def test_the_engine_runs_exactly_the_plans_steps_in_order_as_described(tmp_path, monkeypatch):
    env = lab(tmp_path)
    ran: list[Step] = []
    for action in Action:
        monkeypatch.setitem(HANDLERS, action, lambda _engine, step, _run: ran.append(step))
    console = io.StringIO()
    engine = Engine(
        env, "postgresql://u@127.0.0.1:1/x", reporter=Reporter(Console(file=console, width=300)),
        state=StateLayout(tmp_path), run_checks=no_checks,
    )  # fmt: skip
    plan = plan_release(env, version="v4", release_id="r4", deployed=DEPLOYED)
    engine._run(plan, Run.of(plan, {}))
    assert ran == plan.steps()
    described = [line.strip() for line in plan.describe() if line.startswith("       ")]
    assert said_steps(console.getvalue()) == described
    assert re.findall(r"^==> (\w+)$", console.getvalue(), re.M) == [phase.name for phase in plan.phases]


def test_a_failing_step_after_the_first_change_runs_the_recovery_plan(tmp_path, monkeypatch):
    env = lab(tmp_path)
    ran: list[str] = []

    def record(_engine, step, run):
        ran.append(step.describe())
        if step.action == Action.SWITCH and step.target == run.plan.release_id:
            run.switched.append(step.host)
        if step.action == Action.LOCK:
            run.record["lock_fence"] = 1
        if step.action == Action.SMOKE:
            raise RuntimeError("smoke failed")

    for action in Action:
        monkeypatch.setitem(HANDLERS, action, record)
    monkeypatch.setattr(engine_module.Fleet, "deployed", lambda self, **_: replace(DEPLOYED, drained=()))
    monkeypatch.setattr(engine_module.artifacts, "resolve_version", lambda repo, ref: _Resolved())
    console = io.StringIO()
    engine = Engine(
        env, "postgresql://u@127.0.0.1:1/x", reporter=Reporter(Console(file=console, width=300)),
        state=StateLayout(tmp_path), run_checks=no_checks,
    )  # fmt: skip
    assert engine.release("v4") == ExitCode.FAILED
    plan = engine.audit.entries()[-1]
    assert plan["outcome"] == "rolled back" and plan["rolled_back_to"] == "r3" and "smoke failed" in plan["error"]
    after = ran[ran.index(next(line for line in ran if line.startswith("smoke"))) + 1 :]
    assert after[0].startswith("drain [web1]") and any(line.startswith("switch [web1/r3]") for line in after)
    assert after[-2:] == ["previous [web1/r2]: -> r2", "previous [web2/r2]: -> r2"]
    assert said_steps(console.getvalue())[-len(after) :] == after
    assert json.dumps(plan)  # the record is plain data


class _Resolved:
    version, git_sha, dirty = "v4", "0" * 40, False
