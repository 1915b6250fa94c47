"""The logs checks read the monitoring host's aggregated journal when the environment has one (its `monitoring:`
section), and every web host's own journal otherwise. The lab proves it end to end (tests/lab/
test_monitoring_e2e.py); here the choice of source and the verdict on what it prints."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from checks import logs
from checks.context import Context
from checks.model import Status
from foundation.environment import (
    ENVIRONMENTS_DIR,
    Environment,
    EnvironmentInvalid,
    load_environment,
    parse_environment,
)
from foundation.sections import Monitoring
from foundation.transport import CommandResult

LAB_PROMETHEUS = "http://198.18.0.40:9090"


@pytest.fixture
def lab(lab_state) -> Environment:
    return load_environment("lab", state=lab_state)


def _lab(lab: Environment, monitoring: Monitoring | None = None) -> Context:
    return Context(dataclasses.replace(lab, monitoring=monitoring))


def test_without_a_monitoring_section_each_web_host_journal_is_read(lab):
    sources = logs.sources(_lab(lab))
    assert [host for host, _ in sources] == ["web1", "web2"]
    assert all(command.startswith("journalctl -u golive-app.service") for _, command in sources)


def test_with_one_the_monitoring_hosts_aggregated_journal_is_read(lab):
    sources = logs.sources(_lab(lab, Monitoring(LAB_PROMETHEUS)))
    assert sources == [
        (
            "198.18.0.40",
            "journalctl -D /var/log/journal/remote _SYSTEMD_UNIT=golive-app.service + SYSLOG_IDENTIFIER=golive-app "
            "-n 20000 --no-pager -o cat",
        )
    ]


def test_a_logs_host_names_where_the_journals_are(lab):
    assert logs.log_aggregator(_lab(lab, Monitoring(LAB_PROMETHEUS, logs_host="monitoring")).env) == "monitoring"


def test_logs_host_is_parsed_and_checked(lab_state):
    raw = yaml.safe_load((ENVIRONMENTS_DIR / "lab.yml").read_text())
    section = {"prometheus_url": LAB_PROMETHEUS, "logs_host": "monitoring"}
    assert parse_environment({**raw, "monitoring": section}, state=lab_state).monitoring.logs_host == "monitoring"
    with pytest.raises(EnvironmentInvalid, match="logs_host must be a host name"):
        parse_environment({**raw, "monitoring": {**section, "logs_host": ""}}, state=lab_state)


class Printing:
    def __init__(self, output: str, code: int = 0):
        self.output, self.code, self.commands = output, code, []

    def run(self, command: str, **_: object) -> CommandResult:
        self.commands.append(command)
        return CommandResult(self.code, self.output)


@pytest.mark.parametrize(
    ("output", "status"),
    [
        ('{"level": "INFO", "msg": "stk push accepted", "phone": "254712***678"}\n', Status.PASS),
        ('{"level": "INFO", "msg": "stk push accepted"}\nplanted 254712345678 by a test\n', Status.FAIL),
    ],
)
def test_the_verdict_comes_from_the_aggregated_journal(monkeypatch, lab, output, status):
    ctx = _lab(lab, Monitoring(LAB_PROMETHEUS))
    printed = Printing(output)
    reached = []
    monkeypatch.setattr(logs, "_transport", lambda ctx, host: reached.append(host) or printed)
    result = logs.clean(ctx, {})
    assert result.status == status, result.detail
    assert reached == ["198.18.0.40"]
    assert "/var/log/journal/remote" in printed.commands[0]
    if status == Status.FAIL:
        assert "198.18.0.40 line 2: a full phone number 254*******78" in result.detail
