"""The hosted-CI workflows (.github/workflows/infra-*.yml) cannot run here; they are parsed and checked
against what exists: the stacks, the policy pack, the approval in front of production."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from infra.offline.stackfiles import REPO, stacks

WORKFLOWS = REPO / ".github" / "workflows"


def load(name: str) -> dict:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as true
    return document


def pulumi_steps(job: dict) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@")]


def stacks_of(job: dict, step: dict) -> list[str]:
    name = step["with"]["stack-name"]
    if match := re.fullmatch(r"\$\{\{ matrix\.(\w+) \}\}", name):
        return job["strategy"]["matrix"][match.group(1)]
    return [name]


def all_pulumi_steps() -> list[tuple[str, dict, dict]]:
    return [
        (path.name, job, step)
        for path in sorted(WORKFLOWS.glob("infra-*.yml"))
        for job in load(path.name)["jobs"].values()
        for step in pulumi_steps(job)
    ]


def test_there_are_pulumi_steps_to_check():
    assert len(all_pulumi_steps()) >= 3


@pytest.mark.parametrize(("workflow", "job", "step"), all_pulumi_steps())
def test_every_pulumi_step_names_an_existing_stack_and_the_policy_pack(workflow, job, step):
    for stack in stacks_of(job, step):
        assert stack in stacks(), f"{workflow}: no Pulumi.{stack}.yaml"
    pack = REPO / step["with"]["policyPacks"]
    assert (pack / "PulumiPolicy.yaml").is_file() and (pack / "__main__.py").is_file(), workflow
    assert step["with"]["command"] in ("preview", "up")
    assert re.fullmatch(r"pulumi/actions@v\d+", step["uses"])


def test_pull_requests_preview_every_stack_with_the_policy_pack_after_the_offline_proof():
    workflow = load("infra-preview.yml")
    assert "pull_request" in workflow["on"]
    assert "infra/**" in workflow["on"]["pull_request"]["paths"]
    preview = workflow["jobs"]["preview"]
    (step,) = pulumi_steps(preview)
    assert step["with"]["command"] == "preview" and step["with"]["comment-on-pr"] is True
    assert sorted(stacks_of(preview, step)) == stacks()
    assert preview["needs"] == "offline"
    runs = [s.get("run", "") for s in workflow["jobs"]["offline"]["steps"]]
    assert any("pytest tests/infra" in r for r in runs) and any("infra.snapshot" in r for r in runs)


def test_merges_update_staging_then_production_behind_an_approval():
    workflow = load("infra-deploy.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    jobs = workflow["jobs"]
    (staging_up,) = pulumi_steps(jobs["staging"])
    (production_up,) = pulumi_steps(jobs["production"])
    assert (staging_up["with"]["command"], staging_up["with"]["stack-name"]) == ("up", "staging")
    assert (production_up["with"]["command"], production_up["with"]["stack-name"]) == ("up", "production")
    assert jobs["production"]["needs"] == "staging"
    assert jobs["production"]["environment"] == "production"  # its protection rule is the manual approval
    assert workflow["concurrency"]["cancel-in-progress"] is False


def test_each_deployment_keeps_the_outputs_the_release_reads():
    jobs = load("infra-deploy.yml")["jobs"]
    for stack in ("staging", "production"):
        runs = [s.get("run", "") for s in jobs[stack]["steps"]]
        assert f"pulumi stack output --stack {stack} --json > {stack}-outputs.json" in runs


def test_the_program_runs_from_the_virtualenv_pulumi_yaml_names():
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    venv = project["runtime"]["options"]["virtualenv"]
    for path in WORKFLOWS.glob("infra-*.yml"):
        for job in load(path.name)["jobs"].values():
            if pulumi_steps(job):
                assert any(f"python -m venv {venv}" in s.get("run", "") for s in job["steps"]), path.name


def test_workflow_paths_exist():
    assert Path(WORKFLOWS / "infra-preview.yml").is_file() and Path(WORKFLOWS / "infra-deploy.yml").is_file()
