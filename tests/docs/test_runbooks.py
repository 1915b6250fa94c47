"""The runbooks (docs/runbooks/*.md) hold only real commands, one section per alert, and their `# safe-local`
commands succeed against a released local environment. The checker is tests/docs/runbook_commands.py."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from foundation.admin_client import admin_key
from foundation.repository import REPO_ROOT
from foundation.state import StateLayout
from tests.docs import runbook_commands as rc
from tests.release.local_harness import (
    Fab,
    LocalStage,
    VersionRepo,
    bring_down,
    seed_wheelhouses,
    short_tmp,
    write_environment,
)

EXPECTED = {
    "README.md",
    "release-and-go-live.md",
    "rollback.md",
    "database-restore.md",
    "stuck-payments.md",
    "daraja-outage.md",
    "chain-and-treasury.md",
    "alerts.md",
    "incident-response.md",
    "secret-rotation.md",
}


@pytest.fixture(scope="module")
def probe() -> rc.Probe:
    return rc.Probe()


def _all_commands() -> list[rc.Command]:
    commands = []
    for path in rc.runbooks():
        commands += rc.extract(path)[0]
    return commands


# --- (a) + (b): every command extracted and checked -------------------------------------------------------------


def test_every_runbook_is_there_and_has_commands():
    names = {path.name for path in rc.runbooks()}
    assert names >= EXPECTED, f"missing runbooks: {sorted(EXPECTED - names)}"
    for path in rc.runbooks():
        commands, problems = rc.extract(path)
        assert not problems, problems
        assert commands, f"{path.name} has no command"


def test_every_command_exists_with_its_flags(probe: rc.Probe):
    report = rc.check_all(rc.runbooks(), probe)
    safe = sum(command.safe_local for command in report.commands)
    print(f"{len(report.commands)} commands extracted, {report.checked} checked, {safe} marked safe-local")
    assert report.checked == len(report.commands) > 100
    assert not report.problems, "\n".join(report.problems)


def test_links_between_runbooks_lead_somewhere():
    problems = [problem for path in rc.runbooks() for problem in rc.broken_links(path)]
    assert not problems, "\n".join(problems)


def test_the_readme_points_at_the_runbooks():
    assert "docs/runbooks/" in (REPO_ROOT / "README.md").read_text()


# --- (c): one section per alert ----------------------------------------------------------------------------------


def test_alerts_md_has_one_section_per_alert_in_order():
    names, source = rc.alert_names()
    sections = rc.alert_sections((rc.RUNBOOKS / "alerts.md").read_text())
    assert names, f"no alert names in {source}"
    assert sections == names, f"alerts.md's ## Golive… sections differ from {source}"


def test_every_section_has_meaning_checks_fix_and_escalation():
    text = (rc.RUNBOOKS / "alerts.md").read_text()
    for chunk in text.split("\n## ")[1:]:
        name = chunk.split("\n", 1)[0]
        for part in ("**Meaning**", "**First checks**", "**Fix**", "**Escalation**"):
            assert part in chunk, f"{name}: no {part}"


# --- (e): the checker reports what is wrong ----------------------------------------------------------------------

SYNTHETIC = """\
# A bad runbook

```sh controller
.venv/bin/fab deploy --env local
.venv/bin/fab release --env local --fast
.venv/bin/fab status --env "$ENV"                  # safe-local
.venv/bin/fab rollback --env "$ENV" --to "$RELEASE"   # safe-local
curl -fsS "$URL/api/nowhere"
curl --frobnicate "$URL/api/health"
.venv/bin/ansible-playbook -i "$INV" playbooks/nothing.yml --tagz app
.venv/bin/ansible-vault rotate state/lab/secrets.yml
.venv/bin/python -m app.admin delete-key ops
.venv/bin/python -m app.nothing
echo "unbalanced
```

```sh
ls
```

```sh host=web
systemctl --frobnicate status golive-app.service
frobtool --now
sudo journalctl -u golive-app --since "-1h" --no-pager
```

Prose with `fab unknowntask --env local` inline.
"""


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory, probe: rc.Probe) -> tuple[list[rc.Command], list[str]]:
    path = tmp_path_factory.mktemp("runbooks") / "bad.md"
    path.write_text(SYNTHETIC)
    report = rc.check_all([path], probe)
    return report.commands, report.problems


def _problems_of(synthetic, needle: str) -> list[str]:
    return [problem for problem in synthetic[1] if needle in problem]


@pytest.mark.parametrize(
    "needle",
    [
        "fab deploy: no such task",
        "fab release --fast: no such flag",
        "safe-local uses variables the tests cannot set: RELEASE",
        "/api/nowhere: not a route of the service",
        "curl --frobnicate: no such flag",
        "ansible-playbook --tagz: no such flag",
        "ansible-playbook: no playbook playbooks/nothing.yml",
        "ansible-vault rotate: no such subcommand",
        "python -m app.admin delete-key: not one of",
        "python -m app.nothing: no such module",
        "not valid shell",
        "an sh fence must say where it runs",
        "systemctl --frobnicate: no such flag",
        "frobtool: unknown tool on a host",
        "fab unknowntask: no such task",
    ],
)
def test_the_checker_reports(synthetic, needle: str):
    assert _problems_of(synthetic, needle), f"{needle!r} not reported; reported:\n" + "\n".join(synthetic[1])


def test_the_checker_passes_good_commands(synthetic):
    commands, problems = synthetic
    good = [c for c in commands if c.text.startswith((".venv/bin/fab status", "sudo journalctl"))]
    assert len(good) == 2
    for command in good:
        assert not [p for p in problems if p.startswith(str(command))], problems
    assert [c.safe_local for c in commands if c.text.startswith(".venv/bin/fab status")] == [True]
    assert {c.where for c in commands} == {"controller", "host=web"}


def test_segments_split_pipes_lists_and_substitutions():
    assert rc.segments('KEY=$(cat a) && curl -s "$URL/x" | jq .a; ls') == [
        "KEY=SUBSTITUTED",
        'curl -s "$URL/x"',
        "jq .a",
        "ls",
        "cat a",
    ]
    assert rc.segments("echo 'a | b && c'") == ["echo 'a | b && c'"]
    assert rc.words("sudo -u postgres flock -s /tmp/l X=1 ls -l") == ["ls", "-l"]


# --- (d): the safe-local commands run against a released local environment ---------------------------------------


@dataclass
class Released:
    repo: Path
    env_file: Path
    state: Path
    stage: LocalStage
    key: str

    def environ(self) -> dict[str, str]:
        env = Fab(self.repo, self.state, self.env_file).environ()
        env.update(
            ENV=str(self.env_file),
            URL=self.stage.env.entry_url,
            KEY=self.key,
            GOLIVE_DATABASE_URL=self.stage.db_url(),
            PYTHONPATH=str(self.repo),
        )
        return env


@pytest.fixture(scope="module")
def released(shared_wheelhouses: Path) -> Iterator[Released]:
    """A throwaway local environment (tests/release/local_harness.py) with the working tree released onto it."""
    base = short_tmp("gl-rb-")
    stage = None
    try:
        repo = VersionRepo.copy_of(REPO_ROOT, base / "repo")
        state = base / "ctl"
        seed_wheelhouses(state / "artifacts", shared_wheelhouses)
        env_file = base / "proof.yml"
        write_environment(env_file, base / "env")
        stage = LocalStage(env_file, state)
        result = Fab(repo.path, state, env_file).run("release", "--version", "v1")
        assert result.code == 0, result
        yield Released(repo.path, env_file, state, stage, admin_key(stage.env, stage.db_url(), StateLayout(state)))
    finally:
        leftovers = bring_down(stage, base) if stage is not None else []
        shutil.rmtree(base, ignore_errors=True)
        assert not leftovers, f"processes of the test environment were left running: {leftovers}"


def _safe_local() -> dict[str, rc.Command]:
    unique: dict[str, rc.Command] = {}
    for command in _all_commands():
        if command.safe_local:
            unique.setdefault(command.text, command)
    return unique


SAFE_LOCAL = _safe_local()


def test_there_are_safe_local_commands():
    assert len(SAFE_LOCAL) >= 10


@pytest.mark.slow
@pytest.mark.parametrize("text", list(SAFE_LOCAL), ids=[str(c.path.name) + f":{c.line}" for c in SAFE_LOCAL.values()])
def test_safe_local_command_succeeds(released: Released, text: str):
    tools = {rc.words(segment)[0] for segment in rc.segments(text) if rc.words(segment)}
    missing = [tool for tool in tools if "/" not in tool and shutil.which(tool) is None]
    if missing and os.environ.get("CI") != "true":
        pytest.skip(f"not on this machine: {', '.join(missing)}")
    runnable = text.replace(".venv/bin/", f"{rc.BIN}/")
    done = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {runnable}"],
        cwd=released.repo,
        env=released.environ(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{text}\nexit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
