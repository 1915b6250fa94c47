"""The HTTP checks against the real service (tests/support: a real uvicorn on a free port, the embedded
PostgreSQL, the Daraja simulator), each with a failing case: a service without security headers, a CORS
wildcard, bad M-Pesa credentials, a missing endpoint, a dead port, a flag in another state. Rate limiting has
its own file (test_rate_limit.py)."""

from __future__ import annotations

from fastapi import FastAPI

from checks import flags, http, metrics, payments, websecurity
from checks.model import Status
from tests.support.processes import ThreadServer, free_port

SHOP = "https://shop.example"


def test_health_passes_on_a_running_service_and_fails_on_a_dead_port(against, service, make_context):
    result = http.health(against(service), {})
    assert result.status == Status.PASS and "database ok" in result.detail
    dead = make_context(entry_url=f"http://127.0.0.1:{free_port()}")
    assert http.health(dead, {}).status == Status.FAIL


def test_version_must_be_the_released_one(against, service_factory):
    running = service_factory(release_id="r42")
    assert http.version(against(running, record={"release_id": "r42"}), {}).status == Status.PASS
    result = http.version(against(running, record={"release_id": "r43"}), {})
    assert result.status == Status.FAIL and "runs r42, the release is r43" in result.detail


def test_mpesa_auth_fails_with_bad_credentials_and_passes_with_good(against, service, service_factory, sim):
    # First, while no shared token is stored (sim resets them): the bad credentials must get their own.
    wrong = service_factory(daraja_consumer_secret="not-the-secret-0123456789")
    result = http.mpesa_auth(against(wrong), {})
    assert result.status == Status.FAIL and "502" in result.detail
    assert http.mpesa_auth(against(service), {}).status == Status.PASS


def test_blockchain_health_fails_naming_the_problem_when_the_chain_is_away(against, service_factory):
    from tests.support.processes import free_port  # noqa: PLC0415

    away = service_factory(chain_rpc_url=f"http://127.0.0.1:{free_port()}")
    result = http.blockchain_health(against(away), {})
    assert result.status == Status.FAIL
    assert result.detail.startswith("503: eth_chainId: chain RPC unavailable")


def test_blockchain_health_passes_with_the_chain_and_shows_its_head(against, service_factory, chain_url, control):
    from tests.simulators.chain.chain_harness import TREASURY_KEY  # noqa: PLC0415

    running = service_factory(chain_rpc_url=chain_url, treasury_private_key=TREASURY_KEY)
    result = http.blockchain_health(against(running), {})
    assert result.status == Status.PASS, result.detail
    assert result.detail.startswith("chain 31337: head ") and "1000000.0 USDT" in result.detail


def test_security_headers_present_on_the_service(against, service):
    result = websecurity.security_headers(against(service), {})
    assert result.status == Status.PASS, result.detail


def test_a_missing_security_header_fails(make_context):
    bare = FastAPI()

    @bare.get("/api/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    port = free_port()
    server = ThreadServer(bare, port).start()
    try:
        result = websecurity.security_headers(make_context(entry_url=server.url, ports=(port,)), {})
    finally:
        server.stop()
    assert result.status == Status.FAIL
    assert "x-content-type-options missing" in result.detail


def test_cors_allows_only_the_configured_origins(against, service_factory):
    running = service_factory(cors_origins=[SHOP])
    result = websecurity.cors(against(running, checks={"cors_origins": [SHOP]}), {})
    assert result.status == Status.PASS, result.detail
    assert "not-allowed.invalid refused" in result.detail


def test_cors_wildcard_or_a_configured_origin_refused_fails(against, service_factory, service):
    wildcard = service_factory(cors_origins=["*"])
    result = websecurity.cors(against(wildcard, checks={"cors_origins": [SHOP]}), {})
    assert result.status == Status.FAIL and "(not configured) is allowed" in result.detail
    result = websecurity.cors(against(service, checks={"cors_origins": [SHOP]}), {})
    assert result.status == Status.FAIL and f"{SHOP} (configured) is not allowed" in result.detail


def test_validation_and_admin_authentication(against, service):
    assert websecurity.validation(against(service), {}).status == Status.PASS
    result = websecurity.admin_auth(against(service), {})
    assert result.status == Status.PASS and "no key: 401" in result.detail


def test_feature_flags_in_the_expected_state_or_not(against, service, db):
    db.execute(
        "INSERT INTO feature_flags (feature, enabled, percentage) VALUES ('mpesa_payments', true, 100) "
        "ON CONFLICT (feature) DO UPDATE SET enabled = true, percentage = 100"
    )
    wanted = {"mpesa_payments": {"enabled": True, "percentage": 100}}
    assert flags.expected(against(service, checks={"expected_flags": wanted}), {}).status == Status.PASS
    other = {"mpesa_payments": {"enabled": True, "percentage": 10}}
    result = flags.expected(against(service, checks={"expected_flags": other}), {})
    assert result.status == Status.FAIL and "percentage is 100, expected 10" in result.detail


def test_a_payment_end_to_end_paid_and_declined(against, service, sim):
    ctx = against(service)
    paid = payments.end_to_end(ctx, {})
    assert paid.status == Status.PASS and "-> paid in" in paid.detail
    declined = payments.end_to_end(ctx, {"outcome": "failed"})
    assert declined.status == Status.PASS and "-> failed" in declined.detail
    without_simulator = against(service, synthetic_traffic={"enabled": False})
    assert payments.end_to_end(without_simulator, {}).status == Status.NEEDS_SIGNOFF


def test_performance_probes_and_published_api(against, service):
    ctx = against(service)
    for check in (http.response_time, http.concurrency, http.openapi, metrics.exposed):
        result = check(ctx, {})
        assert result.status == Status.PASS, (check.__name__, result.detail)


def test_a_missing_recovery_endpoint_fails(against, service):
    result = http.admin_endpoint(against(service), {"path": "/api/admin/recovery/statistics"})
    assert result.status == Status.FAIL and "404" in result.detail
