"""TLS checks against a real TLS server on loopback: a good certificate passes; an expired one, one for
another name, an incomplete chain, one about to expire, and a server accepting TLS 1.0/1.1 each fail."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from checks.model import Status
from checks.tls import certificate, legacy_refused, working
from checks.websecurity import redirect_https
from tests.checks.tls_support import PlainServer, TlsServer, pki
from tests.support.processes import free_port

NOW = datetime.now(UTC)


@pytest.fixture
def ca(tmp_path: Path):
    return pki(tmp_path)


@pytest.fixture
def serve(tmp_path: Path):
    servers: list[TlsServer] = []

    def start(chain, **kwargs) -> TlsServer:
        server = TlsServer(tmp_path, chain, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _context(make_context, server: TlsServer, ca_file: Path, host: str = "localhost"):
    return make_context(entry_url=f"https://{host}:{server.port}", checks={"tls_ca_file": str(ca_file)})


def test_valid_certificate_with_complete_chain_passes(make_context, ca, serve):
    server = serve([ca.leaf(), ca.intermediate])
    result = certificate(_context(make_context, server, ca.ca_file), {})
    assert result.status == Status.PASS, result.detail
    assert "chain complete" in result.detail and "localhost" in result.detail
    assert 88 < result.value < 91  # days left


def test_expired_certificate_fails(make_context, ca, serve):
    expired = ca.leaf(not_before=NOW - timedelta(days=100), not_after=NOW - timedelta(days=1))
    server = serve([expired, ca.intermediate])
    result = certificate(_context(make_context, server, ca.ca_file), {})
    assert result.status == Status.FAIL
    assert "expired" in result.detail


def test_certificate_for_another_name_fails(make_context, ca, serve):
    server = serve([ca.leaf(names=("pay.example.org",)), ca.intermediate])
    result = certificate(_context(make_context, server, ca.ca_file), {})
    assert result.status == Status.FAIL
    assert "mismatch" in result.detail.lower() or "hostname" in result.detail.lower(), result.detail


def test_incomplete_chain_fails(make_context, ca, serve):
    server = serve([ca.leaf()])  # the intermediate is not sent
    result = certificate(_context(make_context, server, ca.ca_file), {})
    assert result.status == Status.FAIL
    assert "issuer" in result.detail, result.detail


def test_certificate_with_fourteen_days_or_fewer_left_fails(make_context, ca, serve):
    server = serve([ca.leaf(not_after=NOW + timedelta(days=10)), ca.intermediate])
    result = certificate(_context(make_context, server, ca.ca_file), {})
    assert result.status == Status.FAIL
    assert "days to expiry" in result.detail


def test_nothing_listening_fails(make_context, ca):
    result = certificate(make_context(entry_url="https://localhost:9", checks={"tls_ca_file": str(ca.ca_file)}), {})
    assert result.status == Status.FAIL and "no TLS handshake" in result.detail


def test_modern_server_refuses_tls_1_0_and_1_1(make_context, ca, serve):
    server = serve([ca.leaf(), ca.intermediate])
    result = legacy_refused(_context(make_context, server, ca.ca_file), {})
    assert result.status == Status.PASS, result.detail


def test_server_accepting_tls_1_0_fails(make_context, ca, serve):
    server = serve([ca.leaf(), ca.intermediate], oldest=ssl.TLSVersion.TLSv1)
    result = legacy_refused(_context(make_context, server, ca.ca_file), {})
    assert result.status == Status.FAIL, result.detail
    assert "TLS 1.0" in result.detail


def test_certificates_working_means_a_valid_certificate_and_no_legacy_protocol(make_context, ca, serve):
    modern = serve([ca.leaf(), ca.intermediate])
    assert working(_context(make_context, modern, ca.ca_file), {}).status == Status.PASS
    legacy = serve([ca.leaf(), ca.intermediate], oldest=ssl.TLSVersion.TLSv1)
    result = working(_context(make_context, legacy, ca.ca_file), {})
    assert result.status == Status.FAIL and "accepts TLS 1.0" in result.detail


def test_plain_http_entry_is_not_applicable_locally_but_fails_in_production(make_context):
    assert certificate(make_context(entry_url="http://127.0.0.1:9"), {}).status == Status.NOT_APPLICABLE
    production = make_context(entry_url="http://127.0.0.1:9", name="production")
    assert certificate(production, {}).status == Status.FAIL


@pytest.mark.parametrize(("redirects", "status"), [(True, Status.PASS), (False, Status.FAIL)])
def test_plain_http_must_redirect_to_https(make_context, ca, serve, redirects, status):
    server = serve([ca.leaf(), ca.intermediate])
    plain = PlainServer(f"https://localhost:{server.port}" if redirects else None)
    try:
        ctx = make_context(
            entry_url=f"https://localhost:{server.port}",
            checks={"tls_ca_file": str(ca.ca_file), "http_port": plain.port},
        )
        result = redirect_https(ctx, {})
    finally:
        plain.stop()
    assert result.status == status, result.detail
    if redirects:
        assert f"/api/health -> 301 https://localhost:{server.port}/api/health" in result.detail
    else:
        assert "answered 200 without a redirect to https" in result.detail


def test_nothing_answering_plain_http_fails(make_context, ca, serve):
    server = serve([ca.leaf(), ca.intermediate])
    ctx = make_context(entry_url=f"https://localhost:{server.port}", checks={"http_port": free_port()})
    result = redirect_https(ctx, {})
    assert result.status == Status.FAIL and "nothing answers plain HTTP" in result.detail
