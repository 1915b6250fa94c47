"""The logs checks read the monitoring host's aggregated journal when the environment has one (its `monitoring:`
section), and every web host's own journal otherwise. The lab proves it end to end (tests/lab/
test_monitoring_e2e.py); here the choice of source and the verdict on what it prints."""

from __future__ import annotations

import dataclasses

import pytest

from checks import logs
from checks.context import Context
from checks.model import Status
from release.environment import load_environment
from release.transport import Result

LAB_PROMETHEUS = "http://198.18.0.40:9090"


def _lab(monitoring: object | None = None) -> Context:
    env = load_environment("lab")
    if monitoring is not None:
        env = dataclasses.replace(env, extra={**env.extra, "monitoring": monitoring})
    return Context(env)


def test_without_a_monitoring_section_each_web_host_journal_is_read():
    sources = logs.sources(_lab())
    assert [host for host, _ in sources] == ["web1", "web2"]
    assert all(command.startswith("journalctl -u golive-app.service") for _, command in sources)


def test_with_one_the_monitoring_hosts_aggregated_journal_is_read():
    sources = logs.sources(_lab({"prometheus_url": LAB_PROMETHEUS}))
    assert sources == [
        (
            "198.18.0.40",
            "journalctl -D /var/log/journal/remote _SYSTEMD_UNIT=golive-app.service + SYSLOG_IDENTIFIER=golive-app "
            "-n 20000 --no-pager -o cat",
        )
    ]


def test_a_logs_host_names_where_the_journals_are():
    assert logs.log_aggregator(_lab({"prometheus_url": LAB_PROMETHEUS, "logs_host": "monitoring"}).env) == "monitoring"


def test_the_section_may_be_an_object_with_a_prometheus_url():
    @dataclasses.dataclass(frozen=True)
    class Monitoring:
        prometheus_url: str

    assert logs.log_aggregator(_lab(Monitoring(LAB_PROMETHEUS)).env) == "198.18.0.40"


class Printing:
    def __init__(self, output: str, code: int = 0):
        self.output, self.code, self.commands = output, code, []

    def run(self, command: str, **_: object) -> Result:
        self.commands.append(command)
        return Result(self.code, self.output)


@pytest.mark.parametrize(
    ("output", "status"),
    [
        ('{"level": "INFO", "msg": "stk push accepted", "phone": "254712***678"}\n', Status.PASS),
        ('{"level": "INFO", "msg": "stk push accepted"}\nplanted 254712345678 by a test\n', Status.FAIL),
    ],
)
def test_the_verdict_comes_from_the_aggregated_journal(monkeypatch, output, status):
    ctx = _lab({"prometheus_url": LAB_PROMETHEUS})
    printed = Printing(output)
    reached = []
    monkeypatch.setattr(logs, "_transport", lambda ctx, host: reached.append(host) or printed)
    result = logs.clean(ctx, {})
    assert result.status == status, result.detail
    assert reached == ["198.18.0.40"]
    assert "/var/log/journal/remote" in printed.commands[0]
    if status == Status.FAIL:
        assert "198.18.0.40 line 2: a full phone number 254*******78" in result.detail
