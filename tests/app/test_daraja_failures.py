"""Daraja down, slow, rate-limited, refusing our token or our credentials — and the one rule that
matters most: a push whose answer was lost is never sent again."""

from __future__ import annotations

import base64

import httpx

from app.db import migrator
from tests.support.processes import free_port
from tests.support.service import RunningService, phone
from tests.support.simulator import CONSUMER_KEY, CONSUMER_SECRET


def _payment_of(service: RunningService, response: httpx.Response) -> dict:
    return service.payment(response.json()["payment_id"])


def test_daraja_down_fails_the_payment_cleanly(service_factory, sim):
    service = service_factory(daraja_url=f"http://127.0.0.1:{free_port()}")
    response = service.pay(phone())

    assert response.status_code == 503
    assert response.json()["error"] == "mpesa_unavailable"
    assert int(response.headers["Retry-After"]) > 0
    payment = _payment_of(service, response)
    assert (payment["state"], payment["retryable"]) == ("failed", True)
    assert "cannot reach Daraja" in payment["failure_reason"]


def test_a_lost_answer_is_never_resent_and_the_callback_settles_it(service_factory, sim):
    service = service_factory(daraja_timeout_seconds=0.5)
    assert service.http.post("/api/mpesa/test-auth").status_code == 200  # hold a token before Daraja slows
    sim.configure(response_delay=1.5, callback_delay=2.5)

    response = service.pay(phone())

    assert response.status_code == 202
    lost = response.json()
    assert (lost["state"], lost["needs_review"]) == ("unknown", True)
    settled = service.wait_for_state(lost["id"], {"paid"}, seconds=10)
    assert (settled["state"], settled["needs_review"]) == ("paid", False)
    assert len(sim.accepted_pushes()) == 1


def test_an_answer_that_is_not_daraja_json_is_treated_as_lost(service: RunningService, sim):
    service.http.post("/api/mpesa/test-auth")
    sim.configure(drop_push_answer=True)
    lost = service.pay(phone()).json()
    assert lost["state"] == "unknown"
    assert service.wait_for_state(lost["id"], {"paid"})["state"] == "paid"
    assert [push["status"] for push in sim.pushes()] == [502]


def test_spike_arrest_is_a_503_with_retry_after(service: RunningService, sim):
    service.http.post("/api/mpesa/test-auth")
    sim.configure(spike_arrest=True)
    response = service.pay(phone())

    assert response.status_code == 503
    assert response.json()["error"] == "mpesa_busy"
    assert response.headers["Retry-After"] == "30"
    assert _payment_of(service, response)["state"] == "failed"


def test_a_token_invalidated_elsewhere_is_refreshed_once_and_the_push_retried(service: RunningService, sim):
    assert service.http.post("/api/mpesa/test-auth").status_code == 200
    basic = base64.b64encode(f"{CONSUMER_KEY}:{CONSUMER_SECRET}".encode()).decode()
    # Someone else asks for a token: Daraja invalidates ours.
    sim.http.get("/oauth/v1/generate", params={"grant_type": "client_credentials"},
                 headers={"Authorization": f"Basic {basic}"}).raise_for_status()  # fmt: skip
    before = len(sim.oauth_requests())

    response = service.pay(phone())

    assert response.status_code == 202
    assert [push["status"] for push in sim.pushes()] == [404, 200]
    assert len(sim.oauth_requests()) == before + 1


def test_a_token_refused_twice_is_not_retried_again(service: RunningService, sim):
    service.http.post("/api/mpesa/test-auth")
    sim.configure(force_invalid_token=True)
    response = service.pay(phone())

    assert response.status_code == 503
    assert [push["status"] for push in sim.pushes()] == [404, 404]


def test_one_token_is_shared_by_every_process(service_factory, sim, db):
    db.execute("DELETE FROM daraja_tokens")
    first, second = service_factory(), service_factory()

    assert first.pay(phone()).status_code == 202
    assert second.pay(phone()).status_code == 202
    assert first.http.post("/api/mpesa/test-auth").status_code == 200

    assert len(sim.oauth_requests()) == 1
    assert len(sim.accepted_pushes()) == 2


def test_wrong_credentials_are_reported_not_hidden(service_factory, sim, database_factory):
    url = database_factory("wrong_credentials")
    migrator.migrate(url)
    service = service_factory(db_url=url, daraja_consumer_secret="not-the-secret")

    auth = service.http.post("/api/mpesa/test-auth")
    payment = service.pay(phone())

    assert auth.status_code == 502
    assert "400.008.01" in auth.json()["detail"]
    assert "not-the-secret" not in auth.text
    assert payment.status_code == 503
    assert sim.pushes() == []


def test_a_field_daraja_rejects_is_a_422_that_names_it(service_factory, sim):
    service = service_factory(daraja_shortcode="600000")  # the simulator only knows 174379
    response = service.pay(phone())

    assert response.status_code == 422
    assert response.json()["error"] == "mpesa_rejected"
    assert "400.002.02" in response.json()["detail"]
    assert "BusinessShortCode" in response.json()["detail"]
    payment = _payment_of(service, response)
    assert (payment["state"], payment["retryable"]) == ("failed", False)
