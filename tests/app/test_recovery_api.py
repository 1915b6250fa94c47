"""The manual recovery endpoints on a real service, database and simulator: auth, bad input, the stuck list,
retry by STK query, resolve with a written reason (recorded with the key's name), and clear 404/409/422s."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from app.db import migrator
from tests.support.processes import free_port, wait_until
from tests.support.service import new_admin_key, phone, start_service

ENDPOINTS = [
    ("GET", "/api/admin/recovery/stuck"),
    ("GET", "/api/admin/recovery/stats"),
    # A payment id no payment has, the same in every process (xdist's workers must collect the same test ids).
    ("POST", f"/api/admin/recovery/{uuid.UUID(int=1)}/retry"),
    ("POST", f"/api/admin/recovery/{uuid.UUID(int=2)}/resolve"),
]


@pytest.fixture(scope="module")
def rdb(database_factory) -> str:
    url = database_factory("recovery_api")
    migrator.migrate(url)
    return url


@pytest.fixture(scope="module")
def svc(rdb, simulator, state_dir):
    # Callbacks go to a port nobody listens on: payments stay submitted until someone asks Daraja.
    running = start_service(
        rdb, simulator.url, state_dir, public_base_url=f"http://127.0.0.1:{free_port()}", recovery_query_after_seconds=0
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def key(rdb) -> str:
    return new_admin_key(rdb)


@pytest.fixture
def conn(rdb):
    with psycopg.connect(rdb, autocommit=True) as connection:
        yield connection


def _submitted(svc, sim, ending: str = "00") -> str:
    response = svc.pay(phone(ending))
    assert response.status_code == 202, response.text
    payment_id = response.json()["id"]
    wait_until(lambda: len(sim.callbacks()) >= 1, "the (lost) callback")
    return payment_id


def _state(conn, payment_id: str) -> tuple:
    query = "SELECT state, needs_review, mpesa_receipt FROM payments WHERE id = %s"
    return conn.execute(query, (payment_id,)).fetchone()


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("presented", [None, "glk_not-a-real-key", "wrong-prefix"])
def test_every_endpoint_needs_a_valid_admin_key(svc, method, path, presented):
    headers = {"x-api-key": presented} if presented else {}
    response = svc.http.request(method, path, headers=headers, json={"outcome": "paid", "reason": "x"})
    assert response.status_code == 401
    assert response.json()["detail"] == "missing or invalid x-api-key"


def test_a_submitted_payment_without_callback_is_listed_with_age_state_and_reason(svc, sim, key):
    payment_id = _submitted(svc, sim)
    response = svc.http.get("/api/admin/recovery/stuck", headers={"x-api-key": key}, params={"reason": "no_callback"})
    assert response.status_code == 200
    items = {item["payment_id"]: item for item in response.json()["items"]}
    item = items[payment_id]
    assert (item["state"], item["reason"], item["needs_review"]) == ("submitted", "no_callback", False)
    assert item["age_seconds"] >= 0 and item["since"]
    assert response.json()["count"] == len(response.json()["items"])


@pytest.mark.parametrize(
    ("params", "problem"),
    [({"reason": "sleepy"}, "reason: must be one of"), ({"limit": 0}, "limit"), ({"limit": "many"}, "limit")],
)
def test_the_stuck_list_refuses_bad_filters(svc, key, params, problem):
    response = svc.http.get("/api/admin/recovery/stuck", headers={"x-api-key": key}, params=params)
    assert response.status_code == 422
    assert problem in response.text


def test_retry_asks_daraja_now_and_settles_by_its_answer(svc, sim, key, conn):
    payment_id = _submitted(svc, sim, "32")
    response = svc.http.post(f"/api/admin/recovery/{payment_id}/retry", headers={"x-api-key": key},
                             json={"reason": "payer called support"})  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["action"], body["answer"], body["state"]) == ("stk_query", "failed", "failed")
    assert _state(conn, payment_id)[0] == "failed"
    reason = conn.execute(
        "SELECT reason FROM payment_events WHERE payment_id = %s ORDER BY id DESC LIMIT 1", (payment_id,)
    ).fetchone()[0]
    assert reason.startswith("failed: cancelled by user (STK query), asked by test-")

    again = svc.http.post(f"/api/admin/recovery/{payment_id}/retry", headers={"x-api-key": key})
    assert again.status_code == 409
    assert "nothing to retry: the payment is failed" in again.json()["detail"]


def test_retry_while_daraja_is_still_processing_is_recorded_and_says_so(svc, sim, key, conn):
    sim.configure(callback_delay=600, pending_query_answer="error")
    response = svc.pay(phone("00"))
    payment_id = response.json()["id"]
    retried = svc.http.post(f"/api/admin/recovery/{payment_id}/retry", headers={"x-api-key": key})
    assert retried.status_code == 200
    assert (retried.json()["answer"], retried.json()["state"]) == ("pending", "submitted")
    last = conn.execute(
        "SELECT from_state, to_state, reason FROM payment_events WHERE payment_id = %s ORDER BY id DESC LIMIT 1",
        (payment_id,),
    ).fetchone()
    assert last[0] == last[1] == "submitted" and "STK query asked by test-" in last[2] and last[2].endswith("pending")


def test_retry_when_daraja_is_down_is_a_502_naming_it(svc, sim, key):
    sim.configure(callback_delay=600)
    payment_id = svc.pay(phone("00")).json()["id"]
    sim.configure(spike_arrest=True)
    response = svc.http.post(f"/api/admin/recovery/{payment_id}/retry", headers={"x-api-key": key})
    assert response.status_code == 502
    assert "500.003.02" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path_id", "body", "status", "detail"),
    [
        (str(uuid.UUID(int=3)), None, 404, "no such payment"),  # a fixed id: the same test id in every worker
        ("not-a-uuid", None, 422, "payment_id"),
        (None, {"reason": "   "}, 422, "reason: must be a written reason"),
        (None, {"reason": "x", "extra": 1}, 422, "extra"),
    ],
)
def test_retry_bad_input(svc, sim, key, path_id, body, status, detail):
    target = path_id or _submitted(svc, sim)
    response = svc.http.post(f"/api/admin/recovery/{target}/retry", headers={"x-api-key": key}, json=body)
    assert response.status_code == status
    assert detail in response.text


def test_retry_of_a_paid_payment_whose_payout_has_not_started_is_a_409(svc, sim, key, conn):
    payment_id = _submitted(svc, sim)
    conn.execute("UPDATE payments SET state = 'paid' WHERE id = %s", (payment_id,))
    response = svc.http.post(f"/api/admin/recovery/{payment_id}/retry", headers={"x-api-key": key})
    assert response.status_code == 409
    assert "payout has not started" in response.json()["detail"]


def test_retry_of_a_failed_payout_queues_it_again_at_a_new_nonce(svc, sim, key, conn):
    payment_id = _submitted(svc, sim)
    conn.execute("UPDATE payments SET state = 'payout_failed', needs_review = true WHERE id = %s", (payment_id,))
    conn.execute(
        "INSERT INTO payouts (payment_id, chain_id, token_address, sender, to_address, amount_units, nonce)"
        " VALUES (%s, 31337, %s, %s, %s, 10000000, 7)",
        (payment_id, "0x" + "11" * 20, "0x" + "22" * 20, "0x" + "33" * 20),
    )
    response = svc.http.post(f"/api/admin/recovery/{payment_id}/retry", headers={"x-api-key": key},
                             json={"reason": "the token was paused; it is not any more"})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["action"] == "payout_retry"
    assert "new nonce (nonce 7 is spent)" in response.json()["outcome"]
    state = conn.execute("SELECT state, needs_review FROM payments WHERE id = %s", (payment_id,)).fetchone()
    assert state == ("payout_pending", False)
    assert conn.execute("SELECT nonce FROM payouts WHERE payment_id = %s", (payment_id,)).fetchone()[0] is None


def test_resolve_records_the_outcome_the_reason_and_who(svc, sim, key, conn):
    payment_id = _submitted(svc, sim)
    conn.execute("UPDATE payments SET state = 'unknown', needs_review = true WHERE id = %s", (payment_id,))
    response = svc.http.post(
        f"/api/admin/recovery/{payment_id}/resolve", headers={"x-api-key": key},
        json={"outcome": "paid", "reason": "  Confirmed on the M-Pesa portal  ", "mpesa_receipt": "PORTAL0001"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from_state"], body["state"], body["reason"]) == ("unknown", "paid", "Confirmed on the M-Pesa portal")
    assert body["resolved_by"].startswith("test-")
    assert _state(conn, payment_id) == ("paid", False, "PORTAL0001")
    event = conn.execute(
        "SELECT from_state, to_state, reason, detail FROM payment_events WHERE payment_id = %s"
        " ORDER BY id DESC LIMIT 1",
        (payment_id,),
    ).fetchone()
    assert event[:2] == ("unknown", "paid")
    assert event[2] == f"resolved by {body['resolved_by']} as paid: Confirmed on the M-Pesa portal"
    assert event[3]["actor"] == body["resolved_by"]
    case = conn.execute(
        "SELECT kind, resolution, outcome_state, actor, reason FROM recovery_cases WHERE payment_id = %s",
        (payment_id,),
    ).fetchall()
    assert case == [("needs_review", "resolved", "paid", body["resolved_by"], "Confirmed on the M-Pesa portal")]

    twice = svc.http.post(f"/api/admin/recovery/{payment_id}/resolve", headers={"x-api-key": key},
                          json={"outcome": "failed", "reason": "changed my mind"})  # fmt: skip
    assert twice.status_code == 409
    assert "a paid payment is never marked failed" in twice.json()["detail"]
    assert _state(conn, payment_id)[0] == "paid"


def test_a_receipt_belonging_to_another_payment_is_a_409_and_nothing_changes(svc, sim, key, conn):
    first, second = _submitted(svc, sim), _submitted(svc, sim)
    ok = svc.http.post(f"/api/admin/recovery/{first}/resolve", headers={"x-api-key": key},
                       json={"outcome": "paid", "reason": "portal", "mpesa_receipt": "TAKEN00001"})  # fmt: skip
    assert ok.status_code == 200
    clash = svc.http.post(f"/api/admin/recovery/{second}/resolve", headers={"x-api-key": key},
                          json={"outcome": "paid", "reason": "portal", "mpesa_receipt": "TAKEN00001"})  # fmt: skip
    assert clash.status_code == 409
    assert "already recorded for another payment" in clash.json()["detail"]
    assert _state(conn, second) == ("submitted", False, None)
    assert conn.execute("SELECT count(*) FROM recovery_cases WHERE payment_id = %s", (second,)).fetchone() == (0,)


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"outcome": "paid"}, 422, "reason"),
        ({"outcome": "paid", "reason": ""}, 422, "reason"),
        ({"outcome": "paid", "reason": " \t "}, 422, "reason: must be a written reason"),
        ({"outcome": "refund", "reason": "x"}, 422, "outcome"),
        ({"reason": "x"}, 422, "outcome"),
        ({"outcome": "paid", "reason": "x", "mpesa_receipt": "lower1"}, 422, "mpesa_receipt"),
        ({"outcome": "failed", "reason": "x", "mpesa_receipt": "ABC123"}, 422, "only with outcome paid"),
        ({"outcome": "reviewed", "reason": "x"}, 409, "resolve it as paid or failed"),
    ],
)
def test_resolve_bad_input(svc, sim, key, body, status, detail):
    payment_id = _submitted(svc, sim)
    response = svc.http.post(f"/api/admin/recovery/{payment_id}/resolve", headers={"x-api-key": key}, json=body)
    assert response.status_code == status, response.text
    assert detail in response.text


def test_resolve_an_unknown_payment_is_404(svc, key):
    response = svc.http.post(f"/api/admin/recovery/{uuid.uuid4()}/resolve", headers={"x-api-key": key},
                             json={"outcome": "failed", "reason": "x"})  # fmt: skip
    assert response.status_code == 404 and response.json()["detail"] == "no such payment"


def test_a_reviewed_payout_failure_leaves_the_stuck_list(svc, sim, key, conn):
    payment_id = _submitted(svc, sim)
    conn.execute("UPDATE payments SET state = 'payout_failed', needs_review = true WHERE id = %s", (payment_id,))

    def listed() -> set[str]:
        response = svc.http.get("/api/admin/recovery/stuck", headers={"x-api-key": key},
                                params={"reason": "payout_failed", "limit": 1000})  # fmt: skip
        return {item["payment_id"] for item in response.json()["items"]}

    assert payment_id in listed()
    response = svc.http.post(f"/api/admin/recovery/{payment_id}/resolve", headers={"x-api-key": key},
                             json={"outcome": "reviewed", "reason": "paid out by hand, tx 0xabc"})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "payout_failed"
    assert payment_id not in listed()
    assert _state(conn, payment_id)[:2] == ("payout_failed", False)


def test_retry_settles_an_unknown_payment_daraja_knows_was_paid(svc, sim, key, conn):
    payment_id = _submitted(svc, sim)
    conn.execute("UPDATE payments SET state = 'unknown', needs_review = true WHERE id = %s", (payment_id,))
    conn.execute(
        "INSERT INTO recovery_cases (payment_id, kind, opened_at) VALUES (%s, 'needs_review', now())", (payment_id,)
    )
    response = svc.http.post(f"/api/admin/recovery/{payment_id}/retry", headers={"x-api-key": key})
    assert response.status_code == 200, response.text
    assert (response.json()["answer"], response.json()["state"]) == ("paid", "paid")
    assert _state(conn, payment_id) == ("paid", False, None)
    actor = conn.execute("SELECT actor, resolution FROM recovery_cases WHERE payment_id = %s", (payment_id,)).fetchone()
    assert actor[0].startswith("test-") and actor[1] == "recovered"


@pytest.mark.parametrize(("state", "problem"), [("unknown", "no CheckoutRequestID"), ("initiated", "never recorded")])
def test_retry_without_a_checkout_request_id_is_a_409_saying_why(svc, key, conn, state, problem):
    payment_id = uuid.uuid4()
    conn.execute(
        """INSERT INTO payments (id, idempotency_key, request_fingerprint, msisdn, package_id, amount_kes,
                                 wallet_address, state, needs_review)
           VALUES (%s, %s, 'fp', '254700000100', 'usdt-10', 1300, %s, %s, true)""",
        (payment_id, uuid.uuid4().hex, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", state),
    )
    response = svc.http.post(f"/api/admin/recovery/{payment_id}/retry", headers={"x-api-key": key})
    assert response.status_code == 409
    assert problem in response.json()["detail"]


@pytest.mark.parametrize(
    ("state", "waiting_for", "age", "reason", "detail"),
    [
        ("payout_pending", "usdt", "1 minute", "payout_waiting", "waiting for usdt"),
        ("broadcast", None, "20 minutes", "broadcast_stuck", None),
        ("confirming", None, "20 minutes", "confirming_stuck", None),
        ("confirming", None, "1 minute", None, None),
    ],
)
def test_payout_states_are_listed_when_waiting_or_old(svc, sim, key, conn, state, waiting_for, age, reason, detail):
    payment_id = _submitted(svc, sim)
    conn.execute(
        f"UPDATE payments SET state = %s, updated_at = now() - interval '{age}' WHERE id = %s", (state, payment_id)
    )
    conn.execute(
        """INSERT INTO payouts (payment_id, chain_id, token_address, sender, to_address, amount_units, waiting_for)
           VALUES (%s, 1337, %s, %s, %s, 10000000, %s)""",
        (payment_id, "0x" + "1" * 40, "0x" + "2" * 40, "0x" + "3" * 40, waiting_for),
    )
    response = svc.http.get("/api/admin/recovery/stuck", headers={"x-api-key": key}, params={"limit": 1000})
    items = {item["payment_id"]: item for item in response.json()["items"]}
    if reason is None:
        assert payment_id not in items
        return
    assert (items[payment_id]["reason"], items[payment_id]["state"]) == (reason, state)
    if detail:
        assert items[payment_id]["detail"] == detail
