"""Client address resolution behind proxies, and the per-client rate limiter."""

from __future__ import annotations

from app.http.client_ip import allowed, client_ip, parse_networks
from app.http.rate_limit import RateLimiter

LB = parse_networks(("10.0.0.0/24",))


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy():
    assert client_ip("203.0.113.9", "196.201.214.200", LB) == "203.0.113.9"
    assert client_ip("10.0.0.5", "196.201.214.200", LB) == "196.201.214.200"


def test_only_hops_added_by_trusted_proxies_are_believed():
    # The client forged the left-most entry; the proxy appended the real peer.
    assert client_ip("10.0.0.5", "196.201.214.200, 198.51.100.7", LB) == "198.51.100.7"
    assert client_ip("10.0.0.5", "198.51.100.7, 10.0.0.6", LB) == "198.51.100.7"


def test_garbage_in_forwarded_for_is_not_an_address():
    assert client_ip("10.0.0.5", "not-an-ip", LB) == "not-an-ip"
    assert not allowed("not-an-ip", parse_networks(("0.0.0.0/0",)))
    assert not allowed(None, parse_networks(("0.0.0.0/0",)))


def test_allowlist_matches_addresses_and_networks():
    sources = parse_networks(("196.201.214.200", "196.201.212.0/24"))
    assert allowed("196.201.214.200", sources)
    assert allowed("196.201.212.74", sources)
    assert not allowed("196.201.214.201", sources)


def test_burst_then_refill():
    limiter = RateLimiter(per_minute=60, burst=3)
    assert [limiter.check("a", "api", now=0.0) for _ in range(3)] == [None, None, None]
    assert limiter.check("a", "api", now=0.0) == 1
    assert limiter.check("a", "api", now=1.0) is None


def test_clients_and_groups_have_their_own_buckets():
    limiter = RateLimiter(per_minute=6, burst=1)
    assert limiter.check("a", "api", now=0.0) is None
    assert limiter.check("a", "api", now=0.0) == 10
    assert limiter.check("b", "api", now=0.0) is None
    assert limiter.check("a", "admin", now=0.0) is None


def test_idle_buckets_are_evicted_when_the_table_is_full(monkeypatch):
    monkeypatch.setattr("app.http.rate_limit.MAX_TRACKED", 10)
    limiter = RateLimiter(per_minute=60, burst=5)
    for client in range(10):
        limiter.check(str(client), "api", now=0.0)
    limiter.check("late", "api", now=100.0)
    assert len(limiter._buckets) == 1
