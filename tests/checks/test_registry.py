"""The registry finds the checks itself: every @check in the package's sources is registered without a list naming
its module, a module it never heard of included; the catalogue names only registered checks and runs every one. A
CheckError raised inside a check becomes its result; anything else a check raises is "the check itself failed"."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import checks
from checks import registry
from checks.catalogue import Item, load
from checks.model import CheckError, Result, Status, passed
from checks.runner import run_phase


def declared() -> set[str]:
    """Every name given to @check(...) in the package's sources, read as text (nothing imported)."""
    names = set()
    for path in Path(checks.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                names |= {
                    decorator.args[0].value
                    for decorator in node.decorator_list
                    if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", None) == "check"
                }
    return names


def test_every_check_in_the_sources_is_registered_and_run_by_the_catalogue():
    found = set(registry.load())
    assert found == declared()
    assert len(found) > 60
    assert {item.check for item in load(known_checks=found) if item.check} == found


def test_a_check_in_a_module_nothing_names_is_found(tmp_path, monkeypatch):
    package = tmp_path / "later_checks"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "newcomer.py").write_text(
        "from checks.model import passed\n"
        "from checks.registry import check\n\n\n"
        "@check('newcomer.answers')\n"
        "def answers(ctx, args):\n"
        "    return passed('found')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "REGISTRY", {})
    try:
        found = registry.load("later_checks")
    finally:
        for name in ("later_checks", "later_checks.newcomer"):
            sys.modules.pop(name, None)
    assert set(found) == {"newcomer.answers"}
    assert found["newcomer.answers"](None, {}).detail == "found"


def _box(check: str) -> Item:
    return Item(id=f"x-{check}", section="S / 1. T", text=check, phase="pre-deploy", check=check)


@pytest.fixture
def temporary_checks(monkeypatch):
    """Checks registered for one test only (the registry as it was afterwards)."""
    monkeypatch.setattr(registry, "REGISTRY", dict(registry.load()))

    def register(name: str, function) -> None:
        registry.check(name)(function)

    return register


def test_a_check_error_is_the_checks_result_and_a_crash_a_failure_said_plainly(make_context, temporary_checks):
    def unknown(ctx, args) -> Result:
        raise CheckError("could not check: no source", command="ask the source", status=Status.UNVERIFIED, value=3)

    def helper_says_no(ctx, args) -> Result:
        raise CheckError("the target did not answer", command="curl target")

    def crashes(ctx, args) -> Result:
        raise KeyError("status")

    for name, function in (("t.unknown", unknown), ("t.no", helper_says_no), ("t.crash", crashes)):
        temporary_checks(name, function)
    temporary_checks("t.fine", lambda ctx, args: passed("measured", "looked"))
    run = run_phase(make_context(), "pre-deploy", items=[_box(n) for n in ("t.unknown", "t.no", "t.crash", "t.fine")])
    results = [outcome.result for outcome in run.outcomes]
    assert results[0] == Result(Status.UNVERIFIED, "could not check: no source", "ask the source", 3)
    assert results[1] == Result(Status.FAIL, "the target did not answer", "curl target")
    assert results[2] == Result(Status.FAIL, "the check itself failed: KeyError: 'status'")
    assert results[3] == Result(Status.PASS, "measured", "looked")
