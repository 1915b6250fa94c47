"""The release runs the pre-deploy checks in preflight: a failed required one refuses the release (exit 2)
before anything changes, and the audit record says which. The plan shows both check steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.environment import load_environment
from foundation.fleet import Deployed
from foundation.state import StateLayout
from release.controller import Controller
from release.exit_codes import ExitCode
from release.plan import plan_release
from tests.checks.conftest import environment


def test_the_plan_runs_pre_deploy_checks_in_preflight_and_post_deploy_checks_in_verify():
    plan = plan_release(load_environment("local"), version="v2", release_id="r2", deployed=Deployed())
    phases = {phase.name: [step.action for step in phase.steps] for phase in plan.phases}
    assert phases["preflight"][-1] == "checks"
    assert phases["verify"] == ["smoke", "checks"]
    described = "\n".join(plan.describe())
    assert "checks [pre-deploy]" in described and "checks [post-deploy]" in described


@pytest.mark.slow
def test_a_failed_required_pre_deploy_check_refuses_the_release_before_any_change(tmp_path: Path, database_factory):
    db_url = database_factory("checks_release")
    root, state = tmp_path / "root", tmp_path / "state"
    env = environment(
        root,
        checks={"junit_report": str(tmp_path / "no-such-junit.xml"), "unverified": "warn"},
    )
    engine = Controller(env, state=StateLayout(state), db_url=db_url).engine
    assert engine.release(None) == ExitCode.REFUSED
    record = engine.audit.entries()[-1]
    assert record["outcome"] == "refused"
    assert "pre-1-1" in record["checks"]["pre-deploy"]["blocking"]
    assert "required pre-deploy checks failed" in record["error"]
    assert not (root / "current").exists() and not StateLayout(state).artifacts.exists()
    reports = {path.name for path in StateLayout(state).checks(env.name).glob("*-pre-deploy.json")}
    recorded = record["checks"]["pre-deploy"]["report"]
    # The run's own report (timestamped) is recorded; latest-pre-deploy.json is a copy beside it.
    assert recorded in reports and recorded != "latest-pre-deploy.json" and "latest-pre-deploy.json" in reports
