"""The layers of design.md, as import-linter contracts in pyproject.toml: they hold on this tree, and they can
fail — the same tree breaks them once an exception is taken away or the layers are turned upside down."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from foundation.repository import REPO_ROOT

PYPROJECT = REPO_ROOT / "pyproject.toml"
EXCEPTION = 'ignore_imports = ["** -> app.contract"]'
LAYERS = 'layers = ["release", "checks | lab | loadtests", "foundation"]'


def lint(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), str(config), "--no-cache"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def changed(tmp_path: Path, old: str, new: str) -> Path:
    text = PYPROJECT.read_text()
    assert old in text, f"pyproject.toml no longer says {old!r}: update this test with the contract"
    config = tmp_path / "pyproject.toml"
    config.write_text(text.replace(old, new))
    return config


def test_the_contracts_hold():
    run = lint(PYPROJECT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_without_its_exception_the_service_contract_is_broken(tmp_path):
    run = lint(changed(tmp_path, EXCEPTION, ""))
    assert run.returncode == 1, run.stdout
    assert "The tooling sees the service only through its contract (app.contract) BROKEN" in run.stdout
    assert "-> app.contract" in run.stdout  # the imports the exception allowed are named


def test_layers_turned_upside_down_are_broken(tmp_path):
    run = lint(changed(tmp_path, LAYERS, 'layers = ["foundation", "checks | lab | loadtests", "release"]'))
    assert run.returncode == 1, run.stdout
    assert "BROKEN" in run.stdout and "foundation" in run.stdout
