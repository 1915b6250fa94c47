"""http.rate_limit against the real service: the allowance read from the settings file the service loads, a 429
proven from a slow service with a small allowance, a service that never limits failing with what was sent against
what was allowed, and a service answering more slowly than its allowance refills giving "could not check"."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from checks import ratelimit
from checks.model import Status
from checks.pipelined import statuses
from tests.checks.tls_support import TlsServer, pki
from tests.support.processes import free_port

SLOW_PATH = "/api/blockchain/health"  # limited like the API; each answer asks the chain simulator, slowed below


def write_settings(ctx, **settings: Any) -> None:
    """The service's settings file, where the check reads the allowance (the service under test got the same)."""
    path = Path(ctx.settings_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"GOLIVE_{name.upper()}={value}\n" for name, value in settings.items()))


@pytest.fixture
def slow_chain(chain_url, control):
    """The chain simulator answering every RPC call after 200 ms: /api/blockchain/health asks it five times, so 8
    connections get at most 8 answers a second, however fast the machine is."""
    control.faults(delay=0.2)
    yield chain_url
    control.faults(delay=0)


def slow_service(service_factory, chain_url: str, **limits: Any):
    from tests.simulators.chain.chain_harness import TREASURY_KEY  # noqa: PLC0415

    return service_factory(chain_rpc_url=chain_url, treasury_private_key=TREASURY_KEY, **limits)


def test_the_allowance_is_the_services_settings_with_its_defaults(make_context):
    ctx = make_context(load_balancer="nginx", ports=(8000, 8001))
    write_settings(ctx, rate_limit_per_minute=6000)
    allowance = ratelimit.configured(ctx, "cmd")
    assert allowance == ratelimit.Allowance(burst=30, per_second=100, instances=2)  # burst: the service's default
    assert allowance.allowed(2) == 2 * (30 + 200)
    assert allowance.describe() == "2 instances x (30 at once + 100/s)"


def test_a_slow_service_with_a_small_allowance_answers_429(against, service_factory, slow_chain):
    # At most 8 answers a second (slow_chain) while the bucket refills 3 a second: the first round (1.5 x the burst,
    # 45) takes at least 5.6 s, when the burst and the refill allow 47, so a count fixed from the burst sees no 429.
    # The check asks on until the refill is outspent too. Both bounds hold on a fast machine; a slow one only has to
    # answer faster than 3 a second.
    limits = {"rate_limit_per_minute": 180, "rate_limit_burst": 30}
    ctx = against(slow_service(service_factory, slow_chain, **limits), checks={"rate_limit_path": SLOW_PATH})
    write_settings(ctx, **limits)
    result = ratelimit.rate_limit(ctx, {})
    assert result.status == Status.PASS, result.detail
    assert result.detail.startswith(f"429 after {result.value} requests in ")
    assert result.value > limits["rate_limit_burst"] * ratelimit.MARGIN, result.detail
    assert "(allowance 30 at once + 3/s, from " in result.command


def test_a_service_that_never_limits_fails_naming_what_was_sent_against_what_was_allowed(against, service_factory):
    unlimited = service_factory(rate_limit_enabled=False)
    ctx = against(unlimited)
    write_settings(ctx, rate_limit_per_minute=60, rate_limit_burst=5)  # what it should hold clients to
    result = ratelimit.rate_limit(ctx, {})
    assert result.status == Status.FAIL, result.detail
    assert result.detail.startswith(f"no 429 after {result.value} requests in ")
    assert "against an allowance of 5 at once + 1/s = " in result.detail
    allowed = int(result.detail.rsplit("= ", 1)[1])
    assert result.value > allowed


def test_a_limiter_switched_off_fails_before_sending(make_context):
    ctx = make_context(entry_url=f"http://127.0.0.1:{free_port()}")
    write_settings(ctx, rate_limit_enabled="false")
    result = ratelimit.rate_limit(ctx, {})
    assert result.status == Status.FAIL
    assert (
        result.detail
        == f"the service does not limit: GOLIVE_RATE_LIMIT_ENABLED is off in {ctx.settings_file} on localhost"
    )


def test_answers_slower_than_the_refill_could_not_check(against, service_factory, slow_chain):
    limits = {"rate_limit_per_minute": 600_000, "rate_limit_burst": 5}  # 10 000 a second: never outspent here
    running = slow_service(service_factory, slow_chain, **limits)
    ctx = against(running, checks={"rate_limit_path": SLOW_PATH, "rate_limit_max_seconds": 1.5})
    write_settings(ctx, **limits)
    result = ratelimit.rate_limit(ctx, {})
    assert result.status == Status.UNVERIFIED, result.detail
    assert result.detail.startswith("could not outspend the allowance: ")
    assert "more slowly than it refills" in result.detail


def test_a_dead_entry_point_fails(make_context):
    ctx = make_context(entry_url=f"http://127.0.0.1:{free_port()}")
    write_settings(ctx)
    result = ratelimit.rate_limit(ctx, {})
    assert result.status == Status.FAIL and "got no answer" in result.detail


def test_pipelined_requests_over_tls_are_answered_in_order(tmp_path: Path):
    ca = pki(tmp_path)
    server = TlsServer(tmp_path, [ca.leaf(), ca.intermediate])
    url = f"https://localhost:{server.port}"
    try:
        assert Counter(statuses(url, "/", 25, verify=str(ca.ca_file))) == {200: 25}
        with pytest.raises(OSError, match="CERTIFICATE_VERIFY_FAILED"):
            statuses(url, "/", 1, verify=True)  # the system's CAs do not know this one
    finally:
        server.stop()
