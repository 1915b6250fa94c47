"""Monitoring end to end in the lab, with real faults:

- a line written to web1's journal is found in the monitoring host's aggregated journal within seconds;
- the logs check (checks/logs.py), reading the aggregated journal as it does for an environment with a monitoring
  host, fails on a full phone number planted in web1's journal (and the plant is removed afterwards);
- stopping the service instance on web1 brings GoliveTargetDown (job golive_web, instance web1) to the webhook
  receiver, and starting it again brings the resolved notification; both delays are measured and printed.

The lab is converged first when it is not, and a release is deployed when there is none (the service must run
for its target to go down: tests/support/lab/releases.py); the lab lock is held shared throughout. Every test puts
the host back as it found it, failing or not.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import yaml

from checks import logs
from checks.context import Context
from checks.model import Status
from foundation.environment import load_environment
from foundation.repository import REPO_ROOT
from foundation.sections import Monitoring
from lab.layout import Layout
from tests.support.lab.fab import ssh
from tests.support.lab.lab_state import converged_lab, probe

pytestmark = [pytest.mark.slow, pytest.mark.lab, pytest.mark.timeout(1200)]
LAYOUT = Layout.default()
PROMETHEUS = "http://198.18.0.40:9090"
WEB1 = "198.18.0.11"
NOTIFICATIONS = "/var/lib/golive-alert-webhook/notifications.jsonl"
REMOTE_JOURNAL = "/var/log/journal/remote"
JOURNAL_WITHIN_SECONDS = 30  # a journal line reaches the monitoring host within this
ALERT_WITHIN_SECONDS = 180  # GoliveTargetDown has `for: 1m`; scrape, evaluation and group_wait add seconds
RESOLVED_WITHIN_SECONDS = 90
RULES = REPO_ROOT / "roles" / "monitoring" / "files" / "rules"


@pytest.fixture(scope="module")
def lab(lab_releases) -> Iterator[None]:
    with converged_lab():
        lab_releases.any_deployed()
        yield


def _notifications(after_line: int = 0) -> list[dict]:
    text = ssh("monitoring", f"cat {NOTIFICATIONS} 2>/dev/null || true")
    return [json.loads(line) for line in text.splitlines()[after_line:] if line.strip()]


def _matching(entries: list[dict], status: str, since: float, **labels: str) -> dict | None:
    for entry in entries:
        notification = entry["notification"]
        if entry["received_at"] < since or notification.get("status") != status:
            continue
        for alert in notification.get("alerts", []):
            if alert.get("status") == status and all(alert["labels"].get(k) == v for k, v in labels.items()):
                return entry
    return None


def _query(promql: str) -> list[dict]:
    answer = httpx.get(f"{PROMETHEUS}/api/v1/query", params={"query": promql}, timeout=10).json()
    return answer["data"]["result"]


def _wait(what: str, seconds: float, found, step: float = 1.0):
    deadline = time.monotonic() + seconds
    while True:
        value = found()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: nothing after {seconds:.0f} s"
        time.sleep(step)


def _aggregated(match: str, marker: str) -> bool:
    script = f"journalctl -D {REMOTE_JOURNAL} {match} --no-pager -o cat | grep -cF {marker} || true"
    return ssh("monitoring", script).strip() not in ("", "0")


def test_a_journal_line_on_web1_reaches_the_monitoring_host(lab):
    marker = f"golive-journal-probe-{uuid.uuid4().hex}"
    written = time.monotonic()
    ssh("web1", f"logger -t golive-e2e {marker}")
    _wait("the line in the aggregated journal", JOURNAL_WITHIN_SECONDS, lambda: _aggregated("-t golive-e2e", marker))
    seconds = time.monotonic() - written
    hostnames = ssh("monitoring", f"journalctl -D {REMOTE_JOURNAL} -t golive-e2e -o json --no-pager | grep -F {marker}")
    assert json.loads(hostnames.splitlines()[-1])["_HOSTNAME"] == "web1"
    print(f"\njournal line from web1 searchable on monitoring after {seconds:.1f} s (limit {JOURNAL_WITHIN_SECONDS} s)")


def _forget_web1_in_the_aggregate() -> None:
    """The aggregated journal's files for web1 are deleted (the collector stopped meanwhile): a planted line must
    not fail the logs check of every later lab release. web1's uploader resumes after its cursor."""
    ssh(
        "monitoring",
        "systemctl stop systemd-journal-remote.socket systemd-journal-remote.service && "
        f"rm -f {REMOTE_JOURNAL}/remote-{WEB1}.journal {REMOTE_JOURNAL}/remote-{WEB1}@*.journal* && "
        "systemctl start systemd-journal-remote.socket systemd-journal-remote.service",
        timeout=60,
    )


def test_the_logs_check_finds_a_phone_number_planted_in_web1s_journal_through_the_aggregate(lab):
    env = load_environment("lab")
    # the monitoring host as SSH reaches it: its instance id (a session into it), as the outputs name it
    env = dataclasses.replace(env, monitoring=Monitoring(PROMETHEUS, logs_host="monitoring"))
    assert logs.sources(Context(env))[0][0] == "monitoring"
    assert load_environment("lab").monitoring.logs_host == "monitoring"  # what the release's checks take
    before = logs.clean(Context(env), {})
    marker = uuid.uuid4().hex[:12]
    try:
        # Under the service's own name, as a leaking service line would be: a number no real payer has.
        ssh(
            "web1", f"logger -t golive-app 'e2e {marker}: planted payer 254700000001 (tests/roles/test_monitoring_e2e)'"
        )
        _wait(
            "the planted line in the aggregated journal",
            JOURNAL_WITHIN_SECONDS,
            lambda: _aggregated("SYSLOG_IDENTIFIER=golive-app", marker),
        )
        after = logs.clean(Context(env), {})
    finally:
        _forget_web1_in_the_aggregate()
    assert after.status == Status.FAIL, after.detail
    assert "journalctl -D /var/log/journal/remote" in after.command
    assert (after.value or 0) > (before.value if isinstance(before.value, int) else 0), (before.detail, after.detail)
    if before.status == Status.PASS:
        assert "monitoring line" in after.detail and "a full phone number 254*******01" in after.detail, after.detail
    print(f"\nlogs.clean over the aggregated journal: before the plant {before.status}: {before.detail}")
    print(f"after: {after.status}: {after.detail}")


def _has_target_down_rule() -> bool:
    for path in RULES.glob("*.yml"):
        for group in yaml.safe_load(path.read_text()).get("groups", []):
            if any(rule.get("alert") == "GoliveTargetDown" for rule in group.get("rules", [])):
                return True
    return False


def test_a_stopped_instance_on_web1_alerts_and_its_return_resolves(lab):
    if not _has_target_down_rule():
        pytest.skip(f"GoliveTargetDown is not among the role's rules ({RULES}): they come from another branch")
    target = 'up{job="golive_web",instance="web1"}'
    _wait("web1's service target up", 60, lambda: [r for r in _query(target) if r["value"][1] == "1"])
    seen = len(_notifications())
    fault = time.time()
    ssh("web1", "systemctl stop golive-app.service")
    try:
        labels = {"alertname": "GoliveTargetDown", "job": "golive_web", "instance": "web1"}
        fired = _wait(
            "GoliveTargetDown at the webhook",
            ALERT_WITHIN_SECONDS,
            lambda: _matching(_notifications(seen), "firing", fault, **labels),
            step=2,
        )
        back = time.time()
        ssh("web1", "systemctl start golive-app.service")
        resolved = _wait(
            "the resolved notification at the webhook",
            RESOLVED_WITHIN_SECONDS,
            lambda: _matching(_notifications(seen), "resolved", back, **labels),
            step=2,
        )
    finally:
        ssh("web1", "systemctl start golive-app.service")
    _wait("web1 healthy again", 60, lambda: probe("web1", "curl -sf http://127.0.0.1:8000/api/health"))
    severity = fired["notification"]["commonLabels"].get("severity")
    assert severity == "critical", fired
    print(
        f"\nGoliveTargetDown (golive_web/web1): fault -> alert received {fired['received_at'] - fault:.1f} s; "
        f"service back -> resolved received {resolved['received_at'] - back:.1f} s"
    )


def test_every_scrape_target_is_up_once_the_lab_runs_a_release(lab):
    deadline = time.monotonic() + 60
    while True:
        targets = httpx.get(f"{PROMETHEUS}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        down = [
            f"{t['labels']['job']}/{t['labels']['instance']}: {t['lastError']}" for t in targets if t["health"] != "up"
        ]
        if not down or time.monotonic() > deadline:
            break
        time.sleep(3)
    print(f"\nscrape targets up: {len(targets) - len(down)}/{len(targets)}")
    assert not down, down
