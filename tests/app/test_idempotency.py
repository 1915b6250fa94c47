"""One Idempotency-Key, one payment, one STK push — however often and however concurrently it is sent."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.support.service import WALLET, RunningService, phone


def test_a_retry_returns_the_same_payment_without_a_second_push(service: RunningService, sim):
    key, number = uuid.uuid4().hex, phone()
    first = service.pay(number, key=key)
    again = service.pay(number, key=key)

    assert (first.status_code, again.status_code) == (202, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert len(sim.accepted_pushes()) == 1


def test_the_same_key_for_a_different_request_is_refused(service: RunningService, sim):
    key = uuid.uuid4().hex
    first = service.pay(phone(), key=key)
    other = service.pay(phone(), key=key)

    assert other.status_code == 409
    assert other.json()["error"] == "idempotency_key_reused"
    assert other.json()["payment_id"] == first.json()["id"]
    assert len(sim.accepted_pushes()) == 1


def test_concurrent_identical_requests_create_one_payment(service: RunningService, sim, db):
    key, number = uuid.uuid4().hex, phone()
    body = {"phone": number, "package_id": "usdt-10", "wallet_address": WALLET}

    def send(_: int) -> httpx.Response:
        with httpx.Client(base_url=service.url, timeout=15) as client:
            return client.post("/api/payments", json=body, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(send, range(12)))

    assert {response.status_code for response in responses} <= {200, 202}
    assert sum(response.status_code == 202 for response in responses) == 1
    assert len({response.json()["id"] for response in responses}) == 1
    assert db.execute("SELECT count(*) FROM payments WHERE idempotency_key = %s", (key,)).fetchone()[0] == 1
    assert len(sim.accepted_pushes()) == 1


def test_the_key_is_required_and_checked(service: RunningService, sim):
    body = {"phone": phone(), "package_id": "usdt-10", "wallet_address": WALLET}
    missing = service.http.post("/api/payments", json=body)
    malformed = service.http.post("/api/payments", json=body, headers={"Idempotency-Key": "short"})

    assert missing.status_code == 400
    assert "Idempotency-Key" in missing.json()["detail"]
    assert malformed.status_code == 400
    assert sim.pushes() == []
