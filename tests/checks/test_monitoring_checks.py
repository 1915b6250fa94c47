"""The monitoring checks (checks/monitoring.py) against a real Prometheus and Alertmanager (Debian's binaries) on
loopback: targets that answer and one that does not, the entry point's probe series as the blackbox exporter
exposes them, the repository's own alert rules loaded — each check passing, and failing for a reason it names."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from checks import monitoring
from checks.model import Status
from foundation.repository import REPO_ROOT
from tests.checks.metrics_server import MetricsServer, exposition
from tests.support.processes import free_port
from tests.support.prometheus_server import (
    job,
    start_alertmanager,
    start_prometheus,
    wait_for_alertmanagers,
    wait_for_scrapes,
)

pytestmark = pytest.mark.slow
RULES = REPO_ROOT / "roles" / "monitoring" / "files" / "rules" / "golive.rules.yml"
DAYS = 86400


def probe_exposition(success: int, days_left: float) -> str:
    return (
        "# TYPE probe_success gauge\n"
        f"probe_success {success}\n"
        "# TYPE probe_ssl_earliest_cert_expiry gauge\n"
        f"probe_ssl_earliest_cert_expiry {time.time() + days_left * DAYS}\n"
    )


@pytest.fixture(scope="module")
def targets() -> Iterator[dict[str, MetricsServer]]:
    servers = {
        "web": MetricsServer(exposition(ok=10, errors=0, paid=1, failed=0)),
        "probe_up": MetricsServer(probe_exposition(1, 60)),
        "probe_down": MetricsServer(probe_exposition(0, 60)),
    }
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="module")
def stack(targets, tmp_path_factory) -> Iterator[dict[str, str]]:
    """Prometheus with the repository's rules and an Alertmanager; a second one with no rules, whose Alertmanager
    never answers."""
    base = tmp_path_factory.mktemp("monitoring")
    dead = f"127.0.0.1:{free_port()}"
    alertmanager = start_alertmanager(base / "alertmanager")
    started = [alertmanager]
    try:
        full = start_prometheus(
            base / "full",
            [
                job("golive_web", [f"127.0.0.1:{targets['web'].port}", dead]),
                job("node", [f"127.0.0.1:{targets['web'].port}"]),
                job("blackbox_https", [f"127.0.0.1:{targets['probe_up'].port}"]),
            ],
            rule_files=[RULES],
            alertmanagers=[alertmanager.url.removeprefix("http://")],
        )
        started.append(full)
        bare = start_prometheus(
            base / "bare",
            [job("blackbox_https", [f"127.0.0.1:{targets['probe_down'].port}"])],
            alertmanagers=[dead],  # configured, never answering
        )
        started.append(bare)
        wait_for_scrapes(full.url, 4)
        wait_for_scrapes(bare.url, 1)
        for prometheus in (full, bare):
            wait_for_alertmanagers(prometheus.url, 1)
        yield {"full": full.url, "bare": bare.url, "dead": dead}
    finally:
        for server in reversed(started):
            server.stop()


def context(make_context, prometheus: str | None, name: str = "local"):
    extra = {"monitoring": {"prometheus_url": prometheus}} if prometheus else {}
    return make_context(name=name, checks={"monitoring_settle_seconds": 3}, **extra)


def test_targets_up_fails_naming_the_target_that_does_not_answer(stack, make_context):
    started = time.monotonic()
    result = monitoring.targets_up(context(make_context, stack["full"]), {})
    assert time.monotonic() - started >= 3  # waited the settle time for it, then failed
    assert result.status == Status.FAIL
    assert result.value == "3/4"
    assert f"golive_web {stack['dead']} down" in result.detail


def test_targets_up_of_chosen_jobs_passes_when_they_all_answer(stack, make_context):
    result = monitoring.targets_up(context(make_context, stack["full"]), {"jobs": ["node", "blackbox_https"]})
    assert result.status == Status.PASS, result.detail
    assert result.value == "2/2"
    assert "jobs blackbox_https, node" in result.detail


def test_targets_up_of_a_job_nobody_scrapes_fails(stack, make_context):
    result = monitoring.targets_up(context(make_context, stack["full"]), {"jobs": ["alertmanager"]})
    assert result.status == Status.FAIL
    assert "scrapes nothing of alertmanager" in result.detail


def test_uptime_probe_passes_with_the_certificate_days_and_fails_when_the_probe_fails(stack, make_context):
    up = monitoring.uptime_probe(context(make_context, stack["full"]), {})
    assert up.status == Status.PASS, up.detail
    assert "certificate expires in 60 days" in up.detail or "certificate expires in 59 days" in up.detail
    down = monitoring.uptime_probe(context(make_context, stack["bare"]), {})
    assert down.status == Status.FAIL
    assert "the uptime probe fails" in down.detail


def test_alerting_passes_with_the_repository_rules_and_an_alertmanager(stack, make_context):
    result = monitoring.alerting(context(make_context, stack["full"]), {"min_alert_rules": 16})
    assert result.status == Status.PASS, result.detail
    assert result.value >= 16


def test_alerting_fails_without_rules_or_an_answering_alertmanager(stack, make_context):
    result = monitoring.alerting(context(make_context, stack["bare"]), {"min_alert_rules": 16})
    assert result.status == Status.FAIL
    assert "0 alert rules loaded (at least 16 expected)" in result.detail
    assert f"Alertmanager {stack['dead']} does not answer" in result.detail


def test_an_unreachable_prometheus_is_could_not_check_never_a_pass(make_context):
    dead = f"http://127.0.0.1:{free_port()}"
    for check in (monitoring.targets_up, monitoring.uptime_probe, monitoring.alerting):
        result = check(context(make_context, dead), {})
        assert result.status == Status.UNVERIFIED, check.__name__
        assert "could not ask Prometheus" in result.detail


def test_without_prometheus_not_applicable_locally_failed_in_production(make_context):
    assert monitoring.targets_up(context(make_context, None), {}).status == Status.NOT_APPLICABLE
    strict = monitoring.alerting(context(make_context, None, name="production"), {})
    assert strict.status == Status.FAIL
    assert "names no Prometheus" in strict.detail
