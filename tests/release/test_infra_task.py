"""fab infra.outputs: the task's wiring (environment -> Pulumi stack -> the state folder) and its refusals, exit 2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from invoke import Context
from invoke.exceptions import Exit
from pulumi import automation
from pulumi.automation import OutputValue

from foundation.environment import load_environment
from foundation.repository import REPO_ROOT
from foundation.state import VARIABLE
from release.tasks.infra import outputs

EXAMPLE = REPO_ROOT / "infra" / "examples" / "staging-outputs.json"
FAB = Path(sys.executable).parent / "fab"


class Stack:
    def __init__(self, plain: dict):
        self.plain = plain

    def outputs(self) -> dict[str, OutputValue]:
        return {key: OutputValue(value=value, secret=False) for key, value in self.plain.items()}


def test_the_task_selects_the_environments_stack_and_writes_where_the_release_reads(tmp_path, monkeypatch, capsys):
    selected = []

    def select_stack(stack_name, work_dir):
        selected.append((stack_name, work_dir))
        return Stack(json.loads(EXAMPLE.read_text()))

    monkeypatch.setattr(automation, "select_stack", select_stack)
    monkeypatch.setenv(VARIABLE, str(tmp_path / "elsewhere"))
    outputs(Context(), env="staging")
    assert selected == [("staging", str(REPO_ROOT))]
    written = tmp_path / "elsewhere" / "staging"
    assert sorted(p.name for p in written.iterdir()) == ["inventory.ini", "stack-outputs.json"]
    printed = capsys.readouterr().out
    assert f"Ansible inventory: {written / 'inventory.ini'}" in printed and "  web: web-1, web-2" in printed
    assert load_environment("staging").outputs == json.loads(EXAMPLE.read_text())  # the release reads the same file


def test_an_unknown_schema_version_is_refused_and_nothing_written(tmp_path, monkeypatch):
    old = {**json.loads(EXAMPLE.read_text()), "schema_version": 1}
    monkeypatch.setattr(automation, "select_stack", lambda stack_name, work_dir: Stack(old))
    monkeypatch.setenv(VARIABLE, str(tmp_path))
    with pytest.raises(Exit) as refused:
        outputs(Context(), env="staging")
    assert refused.value.code == 2 and "schema_version 1, but this controller knows schema_version 3" in str(
        refused.value.message
    )
    assert not (tmp_path / "staging").exists()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ([], "--env is required"),
        (["--env", "local"], "environment local: not on Pulumi"),
        pytest.param(
            ["--env", "staging"],
            "no Pulumi CLI (`pulumi` is not on PATH)",
            marks=pytest.mark.skipif(bool(shutil.which("pulumi")), reason="a Pulumi CLI is installed here"),
        ),
    ],
)
def test_fab_refuses_with_exit_2_and_says_why(tmp_path, args, said):
    done = subprocess.run(
        [str(FAB), "-r", str(REPO_ROOT), "infra.outputs", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", VARIABLE: str(tmp_path), "HOME": str(tmp_path)},
    )
    assert done.returncode == 2, done.stderr
    assert said in done.stderr
    assert not list(tmp_path.glob("*/stack-outputs.json"))
