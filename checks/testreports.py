"""Tests green and coverage, read from the reports a test run leaves (never by running the suite here):
`make test-report` runs pytest with --junitxml=state/reports/junit.xml and pytest-cov's
--cov-report=xml:state/reports/coverage.xml (the paths are the checks settings junit_report, coverage_report)."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # the reports are our own test run's output
from datetime import datetime
from pathlib import Path
from typing import Any

from checks.context import Context
from checks.model import CheckError, Result, failed, passed
from checks.registry import check

PRODUCE = "make test-report"
# Each test case carries the property `kind` (unit, integration, e2e), set by the suite (tests/support/kinds.py).
KIND_PROPERTY = "kind"


def require_fresh(ctx: Context, path: Path, command: str) -> None:
    """A CheckError when the report is missing or too old to be evidence."""
    if not path.is_file():
        raise CheckError(f"no report at {path}: produce it with `{PRODUCE}`", command=command)
    age = ctx.now.timestamp() - path.stat().st_mtime
    limit = ctx.config["report_max_age_hours"] * 3600
    if age > limit:
        raise CheckError(
            f"{path} is {age / 3600:.0f} h old (at most {limit / 3600:.0f} h): run `{PRODUCE}` again", command=command
        )


def _kind(case: ET.Element) -> str | None:
    for prop in case.iter("property"):
        if prop.get("name") == KIND_PROPERTY:
            return prop.get("value")
    return None


def _counts(root: ET.Element, kind: str) -> dict[str, list[str]]:
    counts: dict[str, list[str]] = {"passed": [], "failed": [], "skipped": []}
    for case in root.iter("testcase"):
        if _kind(case) != kind:
            continue
        label = f"{case.get('classname', '')}::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            counts["failed"].append(label)
        elif case.find("skipped") is not None:
            counts["skipped"].append(label)
        else:
            counts["passed"].append(label)
    return counts


def tests_result(ctx: Context, kind: str) -> Result:
    path = ctx.path(ctx.config["junit_report"])
    command = f"read {path} (from `{PRODUCE}`)"
    require_fresh(ctx, path, command)
    try:
        root = ET.parse(path).getroot()  # noqa: S314 (our own test run's report)
    except ET.ParseError as exc:
        return failed(f"{path} is not a JUnit XML report: {exc}", command)
    counts = _counts(root, kind)
    ran = len(counts["passed"]) + len(counts["failed"])
    when = datetime.fromtimestamp(path.stat().st_mtime).astimezone().isoformat(timespec="seconds")
    if counts["failed"]:
        shown = ", ".join(counts["failed"][:3])
        return failed(f"{len(counts['failed'])} of {ran} {kind} tests failed ({shown}…) in the run of {when}", command)
    if ran == 0:
        return failed(
            f"the report of {when} holds no {kind} tests (test cases with the property {KIND_PROPERTY}={kind})", command
        )
    return passed(f"{ran} {kind} tests passed, {len(counts['skipped'])} skipped (run of {when})", command, ran)


@check("tests.unit")
def unit(ctx: Context, args: dict[str, Any]) -> Result:
    return tests_result(ctx, "unit")


@check("tests.integration")
def integration(ctx: Context, args: dict[str, Any]) -> Result:
    return tests_result(ctx, "integration")


@check("tests.e2e")
def end_to_end(ctx: Context, args: dict[str, Any]) -> Result:
    return tests_result(ctx, "e2e")


@check("tests.coverage")
def coverage(ctx: Context, args: dict[str, Any]) -> Result:
    path = ctx.path(ctx.config["coverage_report"])
    command = f"read {path} (from `{PRODUCE}`)"
    require_fresh(ctx, path, command)
    try:
        rate = float(ET.parse(path).getroot().get("line-rate", "nan"))  # noqa: S314
    except (ET.ParseError, ValueError) as exc:
        return failed(f"{path} is not a Cobertura coverage report: {exc}", command)
    minimum = float(ctx.config["min_coverage"])
    if not rate >= minimum:
        return failed(f"line coverage {rate:.1%}, below {minimum:.0%}", command, round(rate, 4))
    return passed(f"line coverage {rate:.1%} (at least {minimum:.0%})", command, round(rate, 4))
