"""Firewall from outside (real sockets on loopback) and service logs (real files read through the local
transport): an open port that should be closed, a full phone number or a secret in a log each fail."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from checks.firewall import ports, probe
from checks.logs import clean, errors, scan
from checks.model import Status
from tests.support.processes import free_port

SECRET = "cs-" + "9" * 40


@pytest.fixture
def listener():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_port_that_should_be_closed_but_is_open_fails(make_context, listener):
    ctx = make_context(checks={"firewall": {"127.0.0.1": {"closed": [listener]}}})
    result = ports(ctx, {})
    assert result.status == Status.FAIL
    assert f"127.0.0.1:{listener} is open (must be closed)" in result.detail


def test_closed_ports_closed_and_open_ports_open_pass(make_context, listener):
    closed = free_port()  # bound once, then released: nothing listens there
    ctx = make_context(checks={"firewall": {"127.0.0.1": {"closed": [closed], "open": [listener]}}})
    result = ports(ctx, {})
    assert result.status == Status.PASS, result.detail
    assert f"127.0.0.1:{closed} refused" in result.detail and f"127.0.0.1:{listener} open" in result.detail
    assert probe("127.0.0.1", closed, 1) == "refused"


def test_an_open_port_that_is_closed_fails(make_context):
    ctx = make_context(checks={"firewall": {"127.0.0.1": {"open": [free_port()]}}})
    assert ports(ctx, {}).status == Status.FAIL


def test_no_firewall_declared_is_not_applicable_locally_and_fails_in_production(make_context):
    assert ports(make_context(), {}).status == Status.NOT_APPLICABLE
    assert ports(make_context(name="production"), {}).status == Status.FAIL


def _logs(root: Path, *lines: str, settings: str = "") -> None:
    (root / "logs").mkdir(parents=True, exist_ok=True)
    (root / "logs" / "web1.log").write_text("\n".join(lines) + "\n")
    (root / "shared").mkdir(exist_ok=True)
    (root / "shared" / "golive.env").write_text(settings)


CLEAN = [
    '{"ts": "2026-11-26T10:00:00Z", "level": "INFO", "msg": "stk push accepted", "phone": "254712***678"}',
    '{"level": "INFO", "msg": "GET /api/health 200", "duration_ms": 10.0712345678, "client": "127.0.0.1"}',
    '{"level": "INFO", "msg": "feature flag set", "x-api-key": "[REDACTED]"}',
]


def test_clean_logs_pass(make_context, tmp_path):
    ctx = make_context()
    _logs(ctx.env.root, *CLEAN, settings=f"GOLIVE_CALLBACK_SECRET={SECRET}\n")
    result = clean(ctx, {})
    assert result.status == Status.PASS, result.detail
    assert "3 lines scanned" in result.detail


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ('{"msg": "stk push for 254712345678 accepted"}', "a full phone number"),
        ('{"msg": "payer 0712345678"}', "a full phone number"),
        ('{"msg": "callback", "note": "+254 7"} {"msg": "PhoneNumber +254712345678"}', "a full phone number"),
        (f'{{"msg": "signing with {SECRET}"}}', "a secret of the service's settings"),
        ('{"msg": "oauth", "header": "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9abcdef"}', "a credential"),
        ('{"msg": "connecting", "url": "postgresql://golive:hunter2pass@db:5432/golive"}', "a URL with a password"),
        ('{"msg": "config", "detail": "passkey=bfb279f9aa9bdbcf158e97dd"}', "a secret-like key=value"),
    ],
)
def test_a_secret_or_a_full_phone_number_in_a_log_fails_without_showing_it(make_context, line, kind):
    ctx = make_context()
    _logs(ctx.env.root, *CLEAN, line, settings=f"GOLIVE_CALLBACK_SECRET={SECRET}\n")
    result = clean(ctx, {})
    assert result.status == Status.FAIL
    assert kind in result.detail and "line 4" in result.detail
    for value in (SECRET, "254712345678", "0712345678", "hunter2pass", "eyJhbGciOiJIUzI1NiJ9abcdef"):
        assert value not in result.detail


def test_missing_logs_fail(make_context):
    result = clean(make_context(), {})
    assert result.status == Status.FAIL and "missing or unreadable" in result.detail


def test_error_lines_are_counted(make_context):
    ctx = make_context()
    _logs(ctx.env.root, *CLEAN, '{"level": "ERROR", "msg": "unhandled error"}')
    assert errors(ctx, {}).status == Status.FAIL
    _logs(ctx.env.root, *CLEAN)
    assert errors(ctx, {}).status == Status.PASS


def test_scan_masks_what_it_finds():
    findings = scan("web1", "payer 254712345678 paid", [])
    assert [(f.kind, f.masked) for f in findings] == [("a full phone number", "254*******78")]
    finding = scan("web1", '{"logger": "golive.payments", "msg": "ok", "payer": "0712345678"}', [])[0]
    assert finding.where == "logger golive.payments, field payer" and "0712345678" not in finding.describe()
    # Not a phone: ids and decimals the service's own redactor leaves alone too.
    assert scan("web1", "merchant 12345-0712345678-1 took 10.0712345678 s", []) == []
