"""The knobs, an environment's loadtest settings, and the release plan's load-test step (pure)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from foundation.environment import EnvironmentInvalid, load_environment, parse_environment
from foundation.fleet import Deployed
from foundation.sections import LoadTest
from foundation.stack_outputs.schema import SCHEMA_VERSION
from loadtests.knobs import KnobInvalid, expected_state, from_environ
from loadtests.runner import LoadSpec, LoadTestError, commands
from release.gates.loadtest import spec_for
from release.plan import plan_release

DEPLOYED = Deployed(current="r3", current_version="v3", previous="r2", releases=("r1", "r2", "r3"))


def test_knobs_have_defaults_and_read_the_environment():
    knobs = from_environ({})
    assert (knobs.buyer_weight, knobs.reader_weight, knobs.admin_weight) == (3, 6, 1)
    knobs = from_environ({"GOLIVE_LOADTEST_BUYER_WEIGHT": "0", "GOLIVE_LOADTEST_PHONE_ENDINGS": "00, 32"})
    assert knobs.buyer_weight == 0 and knobs.phone_endings == ("00", "32")


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"GOLIVE_LOADTEST_BUYER_WEIGHT": "many"}, "GOLIVE_LOADTEST_BUYER_WEIGHT must be a whole number"),
        ({"GOLIVE_LOADTEST_THINK_MIN": "-1"}, "GOLIVE_LOADTEST_THINK_MIN must be between 0"),
        ({"GOLIVE_LOADTEST_THINK_MIN": "3", "GOLIVE_LOADTEST_THINK_MAX": "1"}, "must not exceed"),
        ({"GOLIVE_LOADTEST_PHONE_ENDINGS": "0"}, "two digits each"),
        ({"GOLIVE_LOADTEST_ADMIN_FLAG": "mpesa_payments"}, "other than mpesa_payments"),
        (
            {f"GOLIVE_LOADTEST_{who}_WEIGHT": "0" for who in ("BUYER", "READER", "ADMIN")},
            "every user weight is 0",
        ),
    ],
)
def test_bad_knobs_are_refused_by_name(variables, message):
    with pytest.raises(KnobInvalid, match=message):
        from_environ(variables)


def test_the_simulator_contract_decides_what_a_payer_does():
    assert expected_state("0712345600") == "paid"
    assert expected_state("0712345632") == "failed"
    assert expected_state("0712345690") == "paid"  # no callback: the query settles it


def test_an_environment_spec_takes_its_settings_then_the_command_line():
    env = load_environment("local")
    spec = spec_for(env)
    assert (spec.host, spec.users, spec.duration, spec.workers) == ("http://127.0.0.1:8000", 10, 20, 0)
    assert spec.thresholds.p95_ms == 500  # loadtests/slo/local.yml
    spec = spec_for(env, users="4", duration="3", spawn_rate="2", workers="2")
    assert (spec.users, spec.duration, spec.spawn_rate, spec.workers) == (4, 3.0, 2.0, 2)
    assert spec.knobs["GOLIVE_LOADTEST_VERIFY_TLS"] == "0"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"users": "0"}, "--users must be between 1 and"),
        ({"users": "ten"}, "--users must be a whole number"),
        ({"duration": "100000"}, "--duration must be between 1 and"),
        ({"workers": "99"}, "--workers must be between 0 and"),
        ({"spawn_rate": "0"}, "--spawn-rate must be above 0"),
        ({"slo_file": "/nonexistent/slo.yml"}, "cannot read thresholds file"),
    ],
)
def test_bad_options_are_refused_by_name(options, message):
    with pytest.raises(LoadTestError, match=message):
        spec_for(load_environment("local"), **options)


@pytest.mark.parametrize("name", ["staging", "production"])
def test_staging_and_production_load_tests_are_read_only_and_verify_tls(tmp_path, name):
    outputs = tmp_path / "state" / name / "stack-outputs.json"
    outputs.parent.mkdir(parents=True)
    outputs.write_text(
        json.dumps({"schema_version": SCHEMA_VERSION, "hosts": {"web": ["10.0.1.10"]}, "domain": "pay.example.com"})
    )
    env = load_environment(name, repo=tmp_path)
    assert not env.loadtest.required  # no simulator behind them: buyers would send real STK pushes
    spec = spec_for(env)
    assert spec.host == "https://pay.example.com"
    assert spec.knobs["GOLIVE_LOADTEST_BUYER_WEIGHT"] == "0" and spec.knobs["GOLIVE_LOADTEST_ADMIN_WEIGHT"] == "0"
    assert spec.knobs["GOLIVE_LOADTEST_VERIFY_TLS"] == "1"


def test_the_plan_has_a_load_test_step_after_the_gates_only_where_required(lab_state):
    local = load_environment("local")
    assert not local.loadtest.required
    plain = plan_release(local, version="v4", release_id="r4", deployed=DEPLOYED)
    assert [step.action for step in _phase(plain, "gates").steps] == ["observe"]
    required = dataclasses.replace(local, loadtest=LoadTest(required=True, users=7, duration=9))
    plan = plan_release(required, version="v4", release_id="r4", deployed=DEPLOYED)
    assert [step.action for step in _phase(plan, "gates").steps] == ["observe", "loadtest"]
    assert [phase.name for phase in plan.phases] == [phase.name for phase in plain.phases]
    assert any("loadtest: 7 users for 9 s" in line for line in plan.describe())
    assert [
        step.action
        for step in _phase(
            plan_release(load_environment("lab", state=lab_state), version="v4", release_id="r4", deployed=DEPLOYED),
            "gates",
        ).steps
    ] == ["observe", "loadtest"]


@pytest.mark.parametrize("loadtest", [["required"], {"required": "yes"}, {"users": 5, "ramp": 2}])
def test_malformed_loadtest_settings_are_refused(loadtest):
    raw = {"name": "x", "transport": "local", "service_manager": "supervisord", "root": "r", "hosts": {"web": ["h"]}}
    raw |= {"instances": [{"name": "a", "port": 1}], "entry_url": "http://127.0.0.1:1", "loadtest": loadtest}
    with pytest.raises(EnvironmentInvalid, match="loadtest"):
        parse_environment(raw)


def test_distributed_mode_is_a_master_and_k_workers_on_one_port(tmp_path):
    spec = LoadSpec(host="http://127.0.0.1:1", users=4, duration=3, workers=2)
    master, workers = commands(spec, tmp_path, master_port=5557)
    assert "--master" in master and master[master.index("--expect-workers") + 1] == "2"
    assert len(workers) == 2 and all(w[w.index("--master-port") + 1] == "5557" for w in workers)
    assert "--headless" in master and master[master.index("--run-time") + 1] == "3s"


def _phase(plan, name):
    return next(phase for phase in plan.phases if phase.name == name)


def test_an_environments_thresholds_file_is_relative_to_the_repository():
    env = dataclasses.replace(load_environment("local"), loadtest=LoadTest(slo="loadtests/slo/lab.yml"))
    assert spec_for(env).thresholds.p95_ms == 1000  # lab.yml over local.yml over default.yml
