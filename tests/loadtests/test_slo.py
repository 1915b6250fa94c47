"""The SLO thresholds and their evaluation (pure)."""

from __future__ import annotations

import pytest

from loadtests import slo
from loadtests.slo import Figures, Thresholds, evaluate, load_thresholds, passed

LIMITS = Thresholds(p95_ms=500, p99_ms=1000, max_failure_ratio=0.01, min_requests=100, min_payments=5)


def figures(**changes) -> Figures:
    values = dict(requests=1000, failures=0, rps=50.0, p50_ms=10, p95_ms=100, p99_ms=300, max_ms=900, duration_s=20)
    values.update(payments=40, paid=40)
    values.update(changes)
    return Figures(**values)


def verdicts(result) -> dict[str, bool]:
    return {check.name: check.passed for check in result}


def test_every_threshold_met_passes():
    checks = evaluate(LIMITS, figures())
    assert passed(checks)
    assert set(verdicts(checks)) == {"requests", "p95", "p99", "failure ratio", "payments", "payment success"}


@pytest.mark.parametrize(
    ("changes", "failing"),
    [
        ({"p95_ms": 501}, {"p95"}),
        ({"p99_ms": 1001}, {"p99"}),
        ({"failures": 11}, {"failure ratio"}),  # 1.1 %
        ({"payments": 40, "paid": 37}, {"payment success"}),  # 92.5 %
        ({"payments": 4, "paid": 4}, {"payments"}),
        ({"payments": 0, "paid": 0}, {"payments", "payment success"}),
    ],
)
def test_each_threshold_fails_on_its_own(changes, failing):
    checks = evaluate(LIMITS, figures(**changes))
    assert not passed(checks)
    assert {name for name, ok in verdicts(checks).items() if not ok} == failing


def test_limits_are_inclusive():
    assert passed(evaluate(LIMITS, figures(p95_ms=500, p99_ms=1000, failures=10, payments=20, paid=19)))


def test_too_few_requests_fails_everything_measured_over_them():
    checks = verdicts(evaluate(LIMITS, figures(requests=99)))
    assert not checks["requests"] and not checks["p95"] and not checks["p99"] and not checks["failure ratio"]


def test_payment_checks_are_skipped_only_when_none_were_required_and_none_ran():
    checks = evaluate(Thresholds(min_payments=0, min_requests=1), figures(payments=0, paid=0))
    assert "payment success" not in verdicts(checks) and passed(checks)


def test_figures_serialise_with_ratios():
    data = figures(failures=5, payments=10, paid=9).as_dict()
    assert data["failure_ratio"] == 0.005 and data["payment_success"] == 0.9


def test_defaults_come_from_the_checklist_and_environments_tighten_them():
    default = load_thresholds()
    assert (default.p95_ms, default.max_failure_ratio, default.min_payment_success) == (2000, 0.01, 0.95)
    local = load_thresholds("local")
    assert local.p95_ms == 500 and local.max_failure_ratio == default.max_failure_ratio
    assert load_thresholds("no-such-environment") == default


def test_an_override_file_wins(tmp_path):
    override = tmp_path / "slo.yml"
    override.write_text("p95_ms: 5\nmin_requests: 7\n")
    limits = load_thresholds("local", override)
    assert (limits.p95_ms, limits.min_requests, limits.p99_ms) == (5, 7, load_thresholds("local").p99_ms)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("p95: 5\n", "unknown thresholds p95"),
        ("p95_ms: -1\n", "p95_ms must be a number >= 0"),
        ("p95_ms: fast\n", "p95_ms must be a number >= 0"),
        ("max_failure_ratio: 5\n", "ratio between 0 and 1"),
        ("min_requests: 2.5\n", "whole number"),
        ("- 1\n", "expected a mapping"),
        ("p95_ms: [\n", "not valid YAML"),
    ],
)
def test_a_bad_thresholds_file_is_refused_by_name(tmp_path, text, message):
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(slo.SloInvalid, match=message.replace("[", r"\[")):
        load_thresholds(None, path)


def test_a_missing_thresholds_file_is_named(tmp_path):
    with pytest.raises(slo.SloInvalid, match=r"cannot read thresholds file .*nope\.yml"):
        load_thresholds(None, tmp_path / "nope.yml")


def test_thresholds_round_trip_through_the_runner():
    assert slo.from_mapping(LIMITS.as_dict()) == LIMITS
