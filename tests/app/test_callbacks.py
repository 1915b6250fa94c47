"""Callbacks played by the test as Safaricom: forged, from the wrong place, malformed, duplicated, late,
contradictory — the raw body is kept, a success is never downgraded, nothing is paid twice."""

from __future__ import annotations

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

import pytest
from psycopg import AsyncConnection

from app.payments import repository
from tests.support import callbacks
from tests.support.processes import wait_until
from tests.support.service import RunningService, phone


@pytest.fixture
def submitted(service: RunningService, sim, db):
    """A payment Daraja accepted whose callback the simulator will never send (ending 90)."""

    def make(package_id: str = "usdt-10") -> tuple[str, str]:
        response = service.pay(phone("90"), package_id=package_id)
        assert response.status_code == 202, response.text
        payment = response.json()
        checkout = db.execute("SELECT checkout_request_id FROM payments WHERE id = %s", (payment["id"],)).fetchone()[0]
        return payment["id"], checkout

    return make


def _stored(db, payment_id: str) -> list[tuple[str, bytes]]:
    rows = db.execute("SELECT status, body FROM stk_callbacks WHERE payment_id = %s ORDER BY id", (payment_id,))
    return [(status, bytes(body)) for status, body in rows.fetchall()]


def _processed(db, payment_id: str, count: int) -> list[str]:
    def done() -> bool:
        stored = _stored(db, payment_id)
        return len(stored) >= count and all(status != "received" for status, _ in stored)

    wait_until(done, "callbacks processed")
    return [status for status, _ in _stored(db, payment_id)]


def test_a_success_is_acknowledged_stored_raw_and_applied(service: RunningService, submitted, db):
    payment_id, checkout = submitted()
    body = callbacks.success(checkout, receipt="NLJ7RT61SV")

    response = callbacks.deliver(service, payment_id, body)

    assert response.status_code == 200
    assert response.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    assert _processed(db, payment_id, 1) == ["applied"]
    assert _stored(db, payment_id)[0][1] == body
    paid = service.payment(payment_id)
    assert (paid["state"], paid["mpesa_receipt"]) == ("paid", "NLJ7RT61SV")


def test_a_wrong_token_is_refused_and_nothing_is_stored(service: RunningService, submitted, db):
    payment_id, checkout = submitted()
    forged = f"/api/callbacks/stk/{uuid.UUID(payment_id).hex}/{'0' * 40}"

    response = service.http.post(forged, content=callbacks.success(checkout))

    assert response.status_code == 404
    assert _stored(db, payment_id) == []
    assert service.payment(payment_id)["state"] == "submitted"


def test_a_token_for_another_payment_is_refused(service: RunningService, submitted, db):
    victim, checkout = submitted()
    other, _ = submitted()
    token = callbacks.path_for(service, other).rsplit("/", 1)[1]

    response = service.http.post(
        f"/api/callbacks/stk/{uuid.UUID(victim).hex}/{token}", content=callbacks.success(checkout)
    )

    assert response.status_code == 404
    assert service.payment(victim)["state"] == "submitted"


def test_a_malformed_callback_is_kept_and_named(service: RunningService, submitted, db):
    payment_id, _ = submitted()

    response = callbacks.deliver(service, payment_id, b'{"Body": {"nothing": 1}}')

    assert response.status_code == 400
    assert "stkCallback" in response.json()["ResultDesc"]
    assert _stored(db, payment_id) == [("malformed", b'{"Body": {"nothing": 1}}')]
    assert service.payment(payment_id)["state"] == "submitted"


def test_a_failure_after_success_never_downgrades(service: RunningService, submitted, db):
    payment_id, checkout = submitted()
    callbacks.deliver(service, payment_id, callbacks.success(checkout))
    _processed(db, payment_id, 1)  # each is applied after its acknowledgement: keep the order deterministic
    callbacks.deliver(service, payment_id, callbacks.failure(checkout, 1032))

    assert _processed(db, payment_id, 2) == ["applied", "ignored"]
    assert service.payment(payment_id)["state"] == "paid"


def test_a_success_after_failure_is_recorded_as_paid(service: RunningService, submitted, db):
    payment_id, checkout = submitted()
    callbacks.deliver(service, payment_id, callbacks.failure(checkout, 1037, "DS timeout user cannot be reached"))
    _processed(db, payment_id, 1)
    callbacks.deliver(service, payment_id, callbacks.success(checkout))

    assert _processed(db, payment_id, 2) == ["applied", "applied"]
    history = [step["to"] for step in service.payment(payment_id)["history"]]
    assert history == ["initiated", "submitted", "failed", "paid"]


def test_identical_callbacks_delivered_at_once_pay_once(service: RunningService, submitted, db):
    """They all read the payment as submitted; one write wins, the others find it changed, read it again and
    see a duplicate: one paid event, never two."""
    payment_id, checkout = submitted()
    body = callbacks.success(checkout, receipt="RACE000001")
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: callbacks.deliver(service, payment_id, body), range(8)))

    assert [answer.status_code for answer in answers] == [200] * 8
    assert sorted(_processed(db, payment_id, 8)) == ["applied"] + ["duplicate"] * 7
    paid_events = db.execute(
        "SELECT count(*) FROM payment_events WHERE payment_id = %s AND to_state = 'paid'", (payment_id,)
    ).fetchone()[0]
    assert paid_events == 1
    assert service.payment(payment_id)["state"] == "paid"


def test_a_success_and_failures_delivered_at_once_end_paid(service: RunningService, submitted, db):
    """Whatever order the writes land in, the success is never downgraded."""
    payment_id, checkout = submitted()
    bodies = [callbacks.failure(checkout, 1032)] * 3 + [callbacks.success(checkout, receipt="RACE000002")]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda body: callbacks.deliver(service, payment_id, body), bodies))

    assert [answer.status_code for answer in answers] == [200] * 4
    statuses = _processed(db, payment_id, 4)
    assert "received" not in statuses
    payment = service.payment(payment_id)
    assert (payment["state"], payment["mpesa_receipt"]) == ("paid", "RACE000002")


def test_a_second_success_with_another_receipt_goes_to_review(service: RunningService, submitted, db):
    payment_id, checkout = submitted()
    callbacks.deliver(service, payment_id, callbacks.success(checkout, receipt="AAAA111111"))
    _processed(db, payment_id, 1)
    callbacks.deliver(service, payment_id, callbacks.success(checkout, receipt="BBBB222222"))

    assert _processed(db, payment_id, 2) == ["applied", "conflict"]
    payment = service.payment(payment_id)
    assert (payment["state"], payment["mpesa_receipt"], payment["needs_review"]) == ("paid", "AAAA111111", True)


def test_a_receipt_already_used_by_another_payment_is_a_conflict(service: RunningService, submitted, db):
    first, first_checkout = submitted()
    second, second_checkout = submitted()
    callbacks.deliver(service, first, callbacks.success(first_checkout, receipt="SAME000001"))
    _processed(db, first, 1)
    callbacks.deliver(service, second, callbacks.success(second_checkout, receipt="SAME000001"))

    assert _processed(db, second, 1) == ["conflict"]
    payment = service.payment(second)
    assert (payment["state"], payment["needs_review"]) == ("submitted", True)


def test_a_paid_amount_that_differs_from_the_price_goes_to_review(service: RunningService, submitted, db):
    payment_id, checkout = submitted()
    callbacks.deliver(service, payment_id, callbacks.success(checkout, amount=1.0))

    _processed(db, payment_id, 1)
    payment = service.payment(payment_id)
    assert (payment["state"], payment["needs_review"]) == ("unknown", True)


def test_a_callback_for_another_checkout_request_is_not_applied(service: RunningService, submitted, db):
    payment_id, _ = submitted()
    callbacks.deliver(service, payment_id, callbacks.failure("ws_CO_somebody_else", 1032))

    assert _processed(db, payment_id, 1) == ["ignored"]
    assert service.payment(payment_id)["state"] == "submitted"


def test_the_source_allowlist_refuses_strangers_and_believes_only_trusted_proxies(service_factory, submitted, db):
    guarded = service_factory(callback_allowlist_enabled=True, callback_allowed_sources="196.201.214.200",
                              trusted_proxies="127.0.0.1")  # fmt: skip
    payment_id, checkout = submitted()
    body = callbacks.success(checkout)

    direct = callbacks.deliver(guarded, payment_id, body)
    spoofed_chain = callbacks.deliver(guarded, payment_id, body, **{"X-Forwarded-For": "196.201.214.200, 10.9.9.9"})
    via_proxy = callbacks.deliver(guarded, payment_id, body, **{"X-Forwarded-For": "10.9.9.9, 196.201.214.200"})

    assert (direct.status_code, spoofed_chain.status_code, via_proxy.status_code) == (403, 403, 200)
    assert _processed(db, payment_id, 1) == ["applied"]


def test_forwarded_for_is_ignored_from_an_untrusted_peer(service_factory, submitted):
    guarded = service_factory(callback_allowlist_enabled=True, callback_allowed_sources="196.201.214.200")
    payment_id, checkout = submitted()
    response = callbacks.deliver(guarded, payment_id, callbacks.success(checkout),
                                 **{"X-Forwarded-For": "196.201.214.200"})  # fmt: skip
    assert response.status_code == 403


def test_callbacks_from_the_simulators_address_pass_the_allowlist(service_factory, sim):
    guarded = service_factory(callback_allowlist_enabled=True, callback_allowed_sources="127.0.0.1/32")
    payment = guarded.pay(phone()).json()
    assert guarded.wait_for_state(payment["id"])["state"] == "paid"


def _store_unapplied(db, payment_id: str, body: bytes) -> None:
    """A callback stored but never applied (its process died after acknowledging it)."""
    db.execute(
        "INSERT INTO stk_callbacks (payment_id, body, received_at) VALUES (%s, %s, now() - interval '1 minute')",
        (payment_id, body),
    )


def test_callbacks_stored_but_never_applied_are_applied_at_start(service_factory, submitted, db):
    payment_id, checkout = submitted()
    _store_unapplied(db, payment_id, callbacks.success(checkout, receipt="RECOVER001"))
    restarted = service_factory()  # stored callbacks are applied once it has started

    assert _processed(db, payment_id, 1) == ["applied"]
    assert restarted.payment(payment_id)["mpesa_receipt"] == "RECOVER001"


def test_stored_callbacks_the_database_cannot_take_neither_stop_the_start_nor_the_others(
    service_factory, submitted, db
):
    """Rows stored before the parser refused such values (issue 15: "Application startup failed" for ever)."""
    nul, nul_checkout = submitted()
    huge, huge_checkout = submitted()
    good, good_checkout = submitted()
    _store_unapplied(db, nul, callbacks.failure(nul_checkout, 1032, "cancelled\x00"))
    _store_unapplied(db, huge, callbacks.failure(huge_checkout, 2**31))
    _store_unapplied(db, good, callbacks.success(good_checkout, receipt="AFTERPOISON1"))

    restarted = service_factory()

    assert restarted.http.get("/api/health").status_code == 200
    assert (_processed(db, nul, 1), _processed(db, huge, 1), _processed(db, good, 1)) == (
        ["malformed"],
        ["malformed"],
        ["applied"],
    )
    assert [restarted.payment(pid)["state"] for pid in (nul, huge, good)] == ["submitted", "submitted", "paid"]


def test_a_transition_refused_as_stale_leaves_its_callback_to_be_applied(
    service: RunningService, submitted, db, db_url
):
    """The optimistic write refused (the payment changed since it was read) marks nothing: the callback stays
    'received', so a crash before the retry leaves it for apply_pending instead of 'applied' with nothing done."""
    payment_id, checkout = submitted()
    callback_id = db.execute(
        "INSERT INTO stk_callbacks (payment_id, body) VALUES (%s, '{}') RETURNING id", (payment_id,)
    ).fetchone()[0]
    stale = db.execute("SELECT updated_at - interval '1 second' FROM payments WHERE id = %s", (payment_id,)).fetchone()

    async def attempt() -> object:
        async with await AsyncConnection.connect(db_url, autocommit=True) as conn:
            return await repository.transition_for_callback(
                conn,
                UUID(payment_id),
                seen_updated_at=stale[0],
                callback_id=callback_id,
                callback_status="applied",
                callback_note="paid (callback)",
                callback_checkout=checkout,
                callback_result=0,
                allowed_from=("submitted",),
                to_state="paid",
                reason="paid (callback)",
            )

    assert asyncio.run(attempt()) is None
    assert db.execute("SELECT status FROM stk_callbacks WHERE id = %s", (callback_id,)).fetchone()[0] == "received"
    assert service.payment(payment_id)["state"] == "submitted"


# -- callbacks that cannot hurt (issue 15) ------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    ["%C3%A9", "%C3%A9" * 20, "A" * 40, "0" * 39, "0" * 41, "0" * 40 + "%0A", "g" * 40],
    ids=["non-ascii", "non-ascii-40", "upper-case", "short", "long", "newline", "not-hex"],
)
def test_a_malformed_token_gets_the_answer_of_a_wrong_token(service: RunningService, submitted, db, token):
    payment_id, checkout = submitted()
    wrong = service.http.post(f"/api/callbacks/stk/{uuid.UUID(payment_id).hex}/{'0' * 40}", content=b"{}")

    response = service.http.post(
        f"/api/callbacks/stk/{uuid.UUID(payment_id).hex}/{token}", content=callbacks.success(checkout)
    )

    assert (
        (response.status_code, response.json())
        == (wrong.status_code, wrong.json())
        == (
            404,
            {"ResultCode": 1, "ResultDesc": "unknown callback address"},
        )
    )
    assert _stored(db, payment_id) == []


@pytest.mark.parametrize(
    "payment_id", ["%C3%A9" * 16, "0" * 32 + "%0A", "0" * 31], ids=["non-ascii", "newline", "short"]
)
def test_a_malformed_payment_id_gets_the_answer_of_a_wrong_token(service: RunningService, payment_id):
    response = service.http.post(f"/api/callbacks/stk/{payment_id}/{'0' * 40}", content=b"{}")

    assert (response.status_code, response.json()["ResultDesc"]) == (404, "unknown callback address")


def test_refused_callbacks_are_rate_limited_and_a_right_token_never_is(service_factory, submitted, db):
    limited = service_factory(callback_refused_per_minute=1, callback_refused_burst=2)
    payment_id, checkout = submitted()
    forged = f"/api/callbacks/stk/{uuid.UUID(payment_id).hex}/{'0' * 40}"

    answers = [limited.http.post(forged, content=b"{}") for _ in range(3)]
    right = callbacks.deliver(limited, payment_id, callbacks.success(checkout))

    assert [answer.status_code for answer in answers] == [404, 404, 429]
    assert int(answers[2].headers["retry-after"]) >= 1
    assert answers[2].json()["ResultCode"] == 1
    assert right.status_code == 200
    assert _processed(db, payment_id, 1) == ["applied"]


@pytest.mark.parametrize(
    ("replace", "problem"),
    [
        ({"ResultDesc": "Request cancelled\x00by user"}, "ResultDesc holds a NUL character"),
        ({"MerchantRequestID": "29115\x00"}, "MerchantRequestID holds a NUL character"),
        ({"ResultCode": 2**31}, "ResultCode is out of range"),
        ({"ResultCode": -(2**31) - 1}, "ResultCode is out of range"),
        ({"ResultCode": str(10**11)}, "ResultCode is out of range"),
        ({"ResultDesc": "\ud800"}, "ResultDesc holds a lone surrogate"),
        ({"CheckoutRequestID": "ws_CO_" + "9" * 3000}, "CheckoutRequestID is longer than 100 characters"),
    ],
    ids=["nul-desc", "nul-id", "above-int32", "below-int32", "huge-code-text", "surrogate", "oversize-id"],
)
def test_values_the_database_cannot_store_are_recorded_as_malformed(
    service: RunningService, submitted, db, replace, problem
):
    payment_id, checkout = submitted()
    stk = {"MerchantRequestID": "29115-34620561-1", "CheckoutRequestID": checkout, "ResultCode": 1032,
           "ResultDesc": "Request cancelled by user", **replace}  # fmt: skip
    body = json.dumps({"Body": {"stkCallback": stk}}).encode()  # NUL and the surrogate as \u escapes, as JSON has them

    response = callbacks.deliver(service, payment_id, body)

    assert response.status_code == 400
    assert problem in response.json()["ResultDesc"]
    assert _stored(db, payment_id) == [("malformed", body)]
    note = db.execute("SELECT note FROM stk_callbacks WHERE payment_id = %s", (payment_id,)).fetchone()[0]
    assert problem in note
    assert service.payment(payment_id)["state"] == "submitted"
