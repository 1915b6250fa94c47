"""roles/monitoring/files/rules: the Prometheus rules pass `promtool check rules` and their promtool unit tests,
carry every alert of issue 8's monitoring contract with its severity and runbook, and every alert is tested both
firing and not firing. promtool comes from Debian's prometheus package (tests/support/debian_tools.py).

The failure paths prove the checks can fail: bad PromQL fails the check, a wrong expectation fails the unit tests,
and so does a rule that loses one of its guards (minimum volume, leader only, a missing series counted as 0)."""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from foundation.metrics.text import EXCLUDED_ROUTES
from foundation.repository import REPO_ROOT
from tests.support.debian_tools import tool_or_skip

RULES_DIR = REPO_ROOT / "roles" / "monitoring" / "files" / "rules"
RULES = RULES_DIR / "golive.rules.yml"
TEST_FILES = sorted((RULES_DIR / "tests").glob("*.yml"))

# The contract's alerts (issue 8, "Alert names"): exact name → severity.
CONTRACT = {
    "GoliveLowPaymentSuccess": "critical",
    "GoliveHighErrorRate": "critical",
    "GoliveSlowResponses": "warning",
    "GoliveTargetDown": "critical",
    "GoliveHostDown": "critical",
    "GoliveEntryPointDown": "critical",
    "GoliveCertificateExpiringSoon": "warning",
    "GoliveBackupTooOld": "critical",
    "GoliveStuckPaymentsHigh": "warning",
    "GoliveStuckPaymentTooOld": "critical",
    "GoliveTreasuryUsdtLow": "warning",
    "GoliveTreasuryGasLow": "critical",
    "GoliveChainHeadStale": "critical",
    "GoliveDarajaErrorsRising": "warning",
    "GoliveNoWorkerLeader": "critical",
    "GoliveUnhandledErrors": "warning",
}


@pytest.fixture(scope="module")
def promtool() -> Path:
    return tool_or_skip("promtool")


def promtool_run(promtool: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(promtool), *map(str, args)], capture_output=True, text=True, timeout=120, check=False)


Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=Loader)  # a safe loader (the C one when PyYAML has it)


@functools.cache
def loaded(path: Path) -> dict:
    """Read-only: the same object for every caller."""
    return load(path)


def rules() -> list[dict]:
    return [rule for group in loaded(RULES)["groups"] for rule in group["rules"]]


def alerts() -> dict[str, dict]:
    return {rule["alert"]: rule for rule in rules() if "alert" in rule}


def alert_rule_tests() -> list[tuple[str, dict]]:
    """(test file name, one alert_rule_test entry) for every entry of every test group."""
    return [
        (path.name, case)
        for path in TEST_FILES
        for group in loaded(path)["tests"]
        for case in group.get("alert_rule_test", [])
    ]


# -- promtool ----------------------------------------------------------------------------------------------------


def test_promtool_check_rules_passes_for_every_rules_file(promtool):
    rule_files = sorted(RULES_DIR.glob("*.yml"))
    assert RULES in rule_files
    run = promtool_run(promtool, "check", "rules", *rule_files)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"SUCCESS: {len(rules())} rules found" in run.stdout, run.stdout


def test_promtool_unit_tests_pass(promtool):
    assert TEST_FILES, f"no promtool tests under {RULES_DIR / 'tests'}"
    run = promtool_run(promtool, "test", "rules", *TEST_FILES)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("SUCCESS") == len(TEST_FILES), run.stdout
    assert "FAILED" not in run.stdout + run.stderr


# -- the contract ------------------------------------------------------------------------------------------------


def test_every_contract_alert_exists_and_no_other():
    assert sorted(alerts()) == sorted(CONTRACT)


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_alert_severity_runbook_and_texts(name):
    rule = alerts()[name]
    assert rule["labels"]["severity"] == CONTRACT[name]
    annotations = rule["annotations"]
    assert annotations["runbook"] == f"docs/runbooks/alerts.md#{name.lower()}"
    assert annotations["summary"].strip()
    assert annotations["description"].strip()


def test_recording_rules_follow_the_naming_convention():
    """level:metric:operations, and every recorded name an alert or another rule reads is recorded here."""
    recorded = [rule["record"] for rule in rules() if "record" in rule]
    assert "golive:http_requests:rate5m" in recorded
    assert all(name.startswith("golive:") and name.count(":") == 2 for name in recorded), recorded
    exprs = " ".join(rule["expr"] for rule in rules())
    used = {word for word in exprs.replace("(", " ").replace("{", " ").split() if word.startswith("golive:")}
    assert used <= set(recorded), used - set(recorded)


def test_the_http_figures_leave_out_the_routes_the_release_gates_leave_out():
    """One definition of the routes that do not count (foundation/metrics/text.py): scrapes, health checks and the
    probes of Daraja and the chain, whose 5xx say the outside world is down, not that payers get errors."""
    http_rules = [rule for rule in rules() if "golive_http_request_duration_seconds" in rule["expr"]]
    excluded = re.findall(r'route!~"([^"]*)"', " ".join(rule["expr"] for rule in http_rules))

    assert len(http_rules) == 3
    assert excluded == ["|".join(sorted(EXCLUDED_ROUTES))] * 3
    assert {"/api/mpesa/test-auth", "/api/blockchain/health"} <= EXCLUDED_ROUTES


# -- the unit tests cover every alert ----------------------------------------------------------------------------


def test_every_alert_is_tested_firing_and_not_firing():
    firing = {case["alertname"] for _, case in alert_rule_tests() if case.get("exp_alerts")}
    quiet = {case["alertname"] for _, case in alert_rule_tests() if not case.get("exp_alerts")}
    assert set(CONTRACT) - firing == set(), "alerts never tested firing"
    assert set(CONTRACT) - quiet == set(), "alerts never tested staying quiet"


def test_tests_name_only_real_alerts():
    """promtool passes an `exp_alerts: []` case for a misspelt alert name: no such alert ever fires."""
    named = {case["alertname"] for _, case in alert_rule_tests()}
    assert named <= set(CONTRACT), named - set(CONTRACT)


def test_firing_cases_check_severity_and_annotations():
    for file_name, case in alert_rule_tests():
        name = case["alertname"]
        for expected in case.get("exp_alerts") or []:
            where = f"{file_name}: {name} at {case['eval_time']}"
            assert expected["exp_labels"]["severity"] == CONTRACT[name], where
            annotations = expected["exp_annotations"]
            assert annotations["runbook"] == f"docs/runbooks/alerts.md#{name.lower()}", where
            assert annotations["summary"] and annotations["description"], where


# -- the checks can fail -----------------------------------------------------------------------------------------


def test_check_rules_fails_on_bad_promql(promtool, tmp_path):
    text = RULES.read_text()
    good = "expr: up == 0"
    assert text.count(good) == 1
    broken = tmp_path / "golive.rules.yml"
    broken.write_text(text.replace(good, "expr: sum(rate(up[5m]) by (job"))
    run = promtool_run(promtool, "check", "rules", broken)
    assert run.returncode != 0
    assert "FAILED" in run.stdout + run.stderr
    assert "parse error" in run.stdout + run.stderr


def write_case(tmp_path: Path, rules_text: str, group_name: str, change=None) -> Path:
    """The rules and the one named test group (changed by `change`) in tmp_path, laid out as in the repository."""
    (tmp_path / "golive.rules.yml").write_text(rules_text)
    for path in TEST_FILES:
        suite = load(path)
        groups = [group for group in suite["tests"] if group.get("name") == group_name]
        if groups:
            break
    else:
        raise AssertionError(f"no promtool test group named {group_name!r}")
    if change:
        change(groups[0])
    suite["tests"] = groups
    (tmp_path / "tests").mkdir()
    test_file = tmp_path / "tests" / "case.yml"
    test_file.write_text(yaml.safe_dump(suite, sort_keys=False))
    return test_file


def test_unit_tests_pass_on_a_copy(promtool, tmp_path):
    """The copy write_case makes is faithful: unchanged, it passes (so the failures below are the changes')."""
    test_file = write_case(tmp_path, RULES.read_text(), "a host goes down")
    run = promtool_run(promtool, "test", "rules", test_file)
    assert run.returncode == 0, run.stdout + run.stderr


def test_unit_tests_fail_on_a_wrong_expectation(promtool, tmp_path):
    def expect_warning(group: dict) -> None:
        firing = next(case for case in group["alert_rule_test"] if case.get("exp_alerts"))
        firing["exp_alerts"][0]["exp_labels"]["severity"] = "warning"  # GoliveHostDown is critical

    test_file = write_case(tmp_path, RULES.read_text(), "a host goes down", expect_warning)
    run = promtool_run(promtool, "test", "rules", test_file)
    assert run.returncode != 0, run.stdout
    output = run.stdout + run.stderr
    assert "FAILED" in output and "GoliveHostDown" in output, output


@pytest.mark.parametrize(
    ("guard", "weakened", "group_name"),
    [
        (
            "golive:http_server_errors:ratio_rate5m > 0.01 and golive:http_requests:rate5m * 300 >= 100",
            "golive:http_server_errors:ratio_rate5m > 0.01",
            "error rate far above 1 % but fewer than 100 requests in 5m",
        ),
        (
            'golive_treasury_balance{job="golive_worker"}\n'
            '            and on (instance) (golive_worker_leader{job="golive_worker"} == 1)',
            'golive_treasury_balance{job="golive_worker"}',
            "the leader reads a low treasury, a former leader still shows its old reading",
        ),
        (
            '(sum(increase(golive_payment_transitions_total{state="paid"}[30m])) or vector(0))',
            'sum(increase(golive_payment_transitions_total{state="paid"}[30m]))',
            "every payment fails (no paid series at all)",
        ),
    ],
    ids=["http-minimum-volume", "treasury-leader-only", "no-paid-series-is-zero"],
)
def test_unit_tests_fail_when_a_rule_loses_a_guard(promtool, tmp_path, guard, weakened, group_name):
    text = RULES.read_text()
    assert text.count(guard) == 1, f"the guard is no longer in {RULES.name}: update this test"
    test_file = write_case(tmp_path, text.replace(guard, weakened), group_name)
    run = promtool_run(promtool, "test", "rules", test_file)
    assert run.returncode != 0, run.stdout
    output = run.stdout + run.stderr
    assert "FAILED" in output and group_name in output, output
