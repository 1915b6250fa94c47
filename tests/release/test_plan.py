"""The release as data, for every environment: hosts, batches, ordering, what is never pruned."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from foundation.environment import EnvironmentInvalid, load_environment, parse_environment
from foundation.fleet import Deployed
from foundation.repository import REPO_ROOT
from foundation.stack_outputs.schema import SCHEMA_VERSION
from release.plan import PHASES, plan_recovery, plan_release, plan_rollback, prunable

DEPLOYED = Deployed(current="r3", current_version="v3", previous="r2", releases=("r1", "r2", "r3"))


def _actions(plan, phase: str) -> list[tuple[str, str | None, str | None]]:
    found = next(p for p in plan.phases if p.name == phase)
    return [(step.action, step.host, step.target) for step in found.steps]


def test_local_release_runs_every_phase_in_order():
    env = load_environment("local")
    plan = plan_release(env, version="v4", release_id="r4", deployed=DEPLOYED)
    assert tuple(phase.name for phase in plan.phases) == PHASES
    assert _actions(plan, "stage") == [("unpack", "localhost", "r4"), ("install", "localhost", "r4")]
    assert _actions(plan, "deploy") == [
        ("switch", "localhost", "r4"),
        ("restart", "localhost", "web1"), ("health", "localhost", "web1"),
        ("restart", "localhost", "web2"), ("health", "localhost", "web2"),
        ("restart", "localhost", "worker"),
    ]  # fmt: skip
    assert "previous: r3" in plan.describe()[0]


def test_lab_deploys_in_batches_draining_each_host(lab_state):
    env = load_environment("lab", state=lab_state)
    plan = plan_release(env, version="v4", release_id="r4", deployed=DEPLOYED)
    deploy = _actions(plan, "deploy")
    assert deploy == [
        ("drain", "web1", None), ("switch", "web1", "r4"), ("restart", "web1", "app"), ("health", "web1", "app"),
        ("restart", "web1", "worker"), ("undrain", "web1", None),
        ("drain", "web2", None), ("switch", "web2", "r4"), ("restart", "web2", "app"), ("health", "web2", "app"),
        ("restart", "web2", "worker"), ("undrain", "web2", None),
    ]  # fmt: skip
    # Every host is staged (uploaded, unpacked, installed) before anything switches.
    assert [a for a, *_ in _actions(plan, "stage")] == ["upload", "unpack", "install"] * 2
    assert {host for _, host, _ in _actions(plan, "preflight") if host} == {"lb", "web1", "web2", "db", "partners"}
    assert _actions(plan, "migrate") == [("migrate", "web1", "r4")]


def test_an_environment_without_a_worker_restarts_none():
    env = load_environment("local")
    plan = plan_release(replace(env, worker=False), version="v4", release_id="r4", deployed=DEPLOYED)
    assert ("restart", "localhost", "worker") not in _actions(plan, "deploy")


def test_re_releasing_the_deployed_version_is_a_no_op():
    plan = plan_release(load_environment("local"), version="v3", release_id="r9", deployed=DEPLOYED)
    assert plan.no_op and plan.phases == ()
    assert "nothing to do" in plan.describe()[1]


def test_current_and_previous_are_never_pruned():
    releases = ("r1", "r2", "r3", "r4", "r5", "r6")
    assert prunable(releases, keep=2, protected={"r1", "r2", "r6"}) == ["r3", "r4", "r5"]
    assert prunable(releases, keep=5, protected={"r5", "r6"}) == ["r1"]
    assert prunable(("r1",), keep=5, protected=set()) == []


def test_release_prunes_beyond_keep_but_not_current_previous_or_new():
    env = load_environment("local")
    many = Deployed("r6", "v6", "r5", ("r1", "r2", "r3", "r4", "r5", "r6"))
    plan = plan_release(env, version="v7", release_id="r7", deployed=many)
    assert [target for action, _, target in _actions(plan, "finish") if action == "prune"] == ["r1", "r2"]


def test_rollback_goes_to_previous_on_every_host_draining_each_while_it_restarts(lab_state):
    env = load_environment("lab", state=lab_state)
    plan = plan_rollback(env, deployed=DEPLOYED)
    assert plan.release_id == "r2"
    deploy = _actions(plan, "deploy")
    # the app, then the worker, each host out of nginx meanwhile
    assert [a for a, *_ in deploy] == ["drain", "switch", "restart", "health", "restart", "undrain"] * 2
    assert [host for _, host, _ in deploy if host][:6] == ["web1"] * 6
    assert [phase.name for phase in plan.phases] == ["preflight", "deploy", "finish"]


def test_rollback_returns_a_host_a_dead_release_left_drained_first(lab_state):
    plan = plan_rollback(load_environment("lab", state=lab_state), deployed=replace(DEPLOYED, drained=("web2",)))
    assert [(a, h) for a, h, _ in _actions(plan, "deploy") if a in ("drain", "undrain")] == [
        ("drain", "web2"), ("undrain", "web2"), ("drain", "web1"), ("undrain", "web1"),
    ]  # fmt: skip


def test_rollback_without_draining_switches_every_host_then_puts_each_back_into_rotation(lab_state):
    plan = plan_rollback(
        load_environment("lab", state=lab_state), deployed=replace(DEPLOYED, drained=("web2",)), drain=False
    )
    deploy = _actions(plan, "deploy")
    assert [a for a, *_ in deploy] == ["switch", "restart", "health", "restart"] * 2 + ["undrain"] * 2
    assert [h for a, h, _ in deploy if a == "undrain"] == ["web1", "web2"]


def test_a_local_rollback_has_no_balancer_to_drain():
    plan = plan_rollback(load_environment("local"), deployed=DEPLOYED)
    assert {a for a, *_ in _actions(plan, "deploy")} == {"switch", "restart", "health"}


def test_the_recovery_of_a_failed_release_restores_first_where_irreversible_then_returns_every_host(lab_state):
    env = load_environment("lab", state=lab_state)
    failed = plan_release(env, version="v4", release_id="r4", deployed=DEPLOYED)
    recovery = plan_recovery(env, failed, prior_previous="r2", switched=True, drained=("web2",), restore="b-1")
    assert [phase.name for phase in recovery.phases] == ["restore", "rollback"]
    assert _actions(recovery, "restore") == [("restore", None, "b-1")]
    rollback = _actions(recovery, "rollback")
    assert rollback[0] == ("drain", "web2", None)  # the host the release left out of rotation comes back first
    assert {target for action, _, target in rollback if action == "switch"} == {"r3"}
    assert [(h, t) for a, h, t in rollback if a == "previous"] == [("web1", "r2"), ("web2", "r2")]


def test_a_failure_before_any_switch_restores_at_most_and_a_first_release_has_nowhere_to_go(lab_state):
    env = load_environment("lab", state=lab_state)
    failed = plan_release(env, version="v4", release_id="r4", deployed=DEPLOYED)
    unswitched = plan_recovery(env, failed, prior_previous="r2", switched=False)
    assert unswitched.phases == () and "nothing to roll back" in unswitched.describe()[-1]
    first = plan_release(env, version="v1", release_id="r1", deployed=Deployed())
    assert "no previous release" in plan_recovery(env, first, prior_previous=None, switched=True).describe()[-1]


def test_rollback_refuses_what_is_not_there():
    env = load_environment("local")
    with pytest.raises(ValueError, match="r9 is not on the hosts"):
        plan_rollback(env, deployed=DEPLOYED, to="r9")
    with pytest.raises(ValueError, match="no previous release"):
        plan_rollback(env, deployed=Deployed("r1", "v1", None, ("r1",)))
    assert plan_rollback(env, deployed=DEPLOYED, to="r3").no_op


def test_unknown_environment_lists_the_known_ones():
    with pytest.raises(EnvironmentInvalid, match="known: lab, local, production, staging"):
        load_environment("prod")


def test_malformed_environment_is_named():
    base = {"name": "x", "transport": "local", "service_manager": "supervisord", "root": "state/x",
            "hosts": {"web": ["h"]}, "instances": [{"name": "a", "port": 1}], "entry_url": "http://h"}  # fmt: skip
    assert parse_environment(base).web_hosts == ("h",)
    with pytest.raises(EnvironmentInvalid, match="unknown keys colour"):
        parse_environment({**base, "colour": "red"})
    with pytest.raises(EnvironmentInvalid, match="service_manager must be one of"):
        parse_environment({**base, "service_manager": "pm2"})
    with pytest.raises(EnvironmentInvalid, match="keep_releases must be at least 2"):
        parse_environment({**base, "keep_releases": 1})


def test_production_without_stack_outputs_says_how_to_get_them(tmp_path):
    with pytest.raises(EnvironmentInvalid, match=r"fab infra\.outputs --env production"):
        load_environment("production", repo=tmp_path)


def test_production_reads_the_infra_stack_outputs(tmp_path):
    example = REPO_ROOT / "infra" / "examples" / "production-outputs.json"
    outputs = tmp_path / "state" / "production" / "stack-outputs.json"
    outputs.parent.mkdir(parents=True)
    outputs.write_text(example.read_text())
    env = load_environment("production", repo=tmp_path)
    described = json.loads(example.read_text())
    assert env.web_hosts == tuple(host["instance_id"] for host in described["hosts"]["web"])
    assert env.entry_url == described["url"]


def test_production_reads_hosts_from_stack_outputs(tmp_path):
    outputs = tmp_path / "state" / "production" / "stack-outputs.json"
    outputs.parent.mkdir(parents=True)
    outputs.write_text(
        json.dumps(
            {
                "schema_version": SCHEMA_VERSION,
                "hosts": {"web": ["10.0.1.10", "10.0.2.10"]},
                "domain": "pay.example.com",
            }
        )
    )
    env = load_environment("production", repo=tmp_path)
    assert env.web_hosts == ("10.0.1.10", "10.0.2.10")
    assert env.entry_url == "https://pay.example.com"
    plan = plan_release(env, version="v4", release_id="r4", deployed=DEPLOYED)
    assert next(a for a, h, _ in _actions(plan, "deploy") if h == "10.0.1.10") == "drain"


BEHIND = replace(DEPLOYED, hosts={"web1": "r3", "web2": None})


def test_releasing_the_deployed_version_brings_only_the_hosts_behind_to_it(lab_state):
    env = load_environment("lab", state=lab_state)
    plan = plan_release(env, version="v3", release_id="r9", deployed=BEHIND)
    assert plan.kind == "catch-up" and not plan.no_op and plan.release_id == "r3"
    assert [phase.name for phase in plan.phases] == ["preflight", "build", "stage", "deploy", "verify", "finish"]
    assert {step.host for step in plan.steps() if step.host} == {"web2"}, "web1 is on r3: untouched"
    assert _actions(plan, "stage") == [("upload", "web2", None), ("unpack", "web2", "r3"), ("install", "web2", "r3")]
    assert _actions(plan, "deploy") == [
        ("drain", "web2", None), ("switch", "web2", "r3"), ("restart", "web2", "app"), ("health", "web2", "app"),
        ("restart", "web2", "worker"), ("undrain", "web2", None),
    ]  # fmt: skip
    assert [action for action, *_ in _actions(plan, "verify")] == ["smoke"]
    assert not {"backup", "migrate", "prune", "observe"} & {str(step.action) for step in plan.steps()}
    said = "\n".join(plan.describe())
    assert "web2 is behind (no release): brought to r3" in said and "web1: on r3, untouched" in said


def test_a_host_on_another_release_is_brought_to_the_fleets_without_a_balancer_where_there_is_none(lab_state):
    env = replace(load_environment("lab", state=lab_state), load_balancer="none")
    behind = replace(DEPLOYED, hosts={"web1": "r2", "web2": "r3"})
    plan = plan_release(env, version="v3", release_id="r9", deployed=behind)
    assert [(a, h) for a, h, _ in _actions(plan, "deploy")][:2] == [("switch", "web1"), ("restart", "web1")]
    assert {step.host for step in plan.steps() if step.host} == {"web1"}
    assert "web1 is behind (has r2, fleet is on r3)" in "\n".join(plan.describe())


def test_another_version_while_hosts_are_behind_is_refused_naming_them_and_the_fix(lab_state):
    with pytest.raises(ValueError, match=r"web2 is behind \(no release\): `fab release --env lab --version v3`"):
        plan_release(load_environment("lab", state=lab_state), version="v4", release_id="r4", deployed=BEHIND)
