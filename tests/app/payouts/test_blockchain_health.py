"""GET /api/blockchain/health against the chain simulator: healthy, another chain, RPC down, a stale head —
and the treasury key never in the answer."""

from __future__ import annotations

import time

from tests.app.payouts.conftest import TREASURY
from tests.simulators.chain.chain_harness import TREASURY_KEY
from tests.support.metrics import scrape
from tests.support.processes import free_port


def test_a_healthy_chain_answers_its_head_and_the_treasurys_balances(service_factory, chain_url, control):
    service = service_factory(chain_rpc_url=chain_url, treasury_private_key=TREASURY_KEY)
    answer = service.http.get("/api/blockchain/health")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["status"], body["chain_id"]) == ("ok", 31337)
    assert body["head"]["number"] >= 1 and body["head"]["age_seconds"] < 60
    assert body["treasury"]["address"] == TREASURY
    assert int(body["treasury"]["usdt_units"]) == 1_000_000 * 10**6
    assert int(body["treasury"]["native_wei"]) > 0
    assert body["rpc_latency_ms"] >= 0
    assert TREASURY_KEY[2:] not in answer.text


def test_another_chain_is_unhealthy(service_factory, chain_url, control):
    service = service_factory(chain_rpc_url=chain_url, chain_id=1)
    answer = service.http.get("/api/blockchain/health")
    assert answer.status_code == 503
    assert "serves chain 31337, not 1" in answer.json()["problems"][0]


def test_an_unreachable_rpc_is_unhealthy_and_named(service_factory):
    service = service_factory(chain_rpc_url=f"http://127.0.0.1:{free_port()}")
    answer = service.http.get("/api/blockchain/health")
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "unhealthy" and "chain RPC unavailable" in body["problems"][0]


def test_a_stale_head_is_unhealthy(service_factory, chain_url, control):
    service = service_factory(chain_rpc_url=chain_url, chain_head_stale_seconds=1)
    # No transaction, no new block. (The simulator may date a fresh chain's blocks a few seconds ahead.)
    deadline = time.monotonic() + 10
    while (answer := service.http.get("/api/blockchain/health")).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.25)
    assert answer.status_code == 503
    assert "stale" in answer.json()["problems"][0]
    control.mine(1)
    assert service.http.get("/api/blockchain/health").status_code == 200


def test_health_sets_the_head_age_gauge(service_factory, chain_url, control):
    service = service_factory(chain_rpc_url=chain_url)

    def gauge() -> float:
        return scrape(service.http).value("golive_chain_head_age_seconds")

    def age() -> float:
        return service.http.get("/api/blockchain/health").json()["head"]["age_seconds"]

    # A fresh chain dates its blocks a few seconds ahead (age 0); nothing is mined meanwhile, so it ages.
    deadline = time.monotonic() + 15
    while (first := age()) < 0.5 and time.monotonic() < deadline:
        time.sleep(0.25)
    assert first >= 0.5 and abs(gauge() - first) < 0.2
    time.sleep(1.2)
    later = age()
    assert later >= first + 1 and abs(gauge() - later) < 0.2

    control.faults(fail_rate=1, fail_mode="http503")  # the chain cannot be read: the age keeps growing
    time.sleep(0.5)
    assert service.http.get("/api/blockchain/health").status_code == 503
    assert gauge() >= later + 0.4
    control.faults(fail_rate=0)

    control.mine(1)
    fresh = age()
    assert fresh < later and abs(gauge() - fresh) < 0.2
