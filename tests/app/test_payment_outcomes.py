"""A payment through the real service, database and simulator, for every result code path."""

from __future__ import annotations

import pytest

from tests.support.processes import wait_until
from tests.support.service import RunningService, msisdn, phone

# (ending, final state, result code, retryable) — the simulator's default scenarios (daraja.md).
OUTCOMES = [
    ("00", "paid", 0, False),
    ("01", "failed", 1, False),
    ("17", "failed", 17, True),
    ("10", "failed", 1001, True),
    ("19", "failed", 1019, False),
    ("20", "failed", 2001, False),
    ("32", "failed", 1032, False),
    ("37", "failed", 1037, False),
]


@pytest.mark.parametrize(("ending", "state", "code", "retryable"), OUTCOMES)
def test_each_result_code_settles_the_payment(service: RunningService, sim, ending, state, code, retryable):
    response = service.pay(phone(ending))
    assert response.status_code == 202, response.text
    started = response.json()
    assert started["state"] == "submitted"

    settled = service.wait_for_state(started["id"])

    assert (settled["state"], settled["result_code"], settled["retryable"]) == (state, code, retryable)
    assert settled["needs_review"] is False
    assert [step["to"] for step in settled["history"]] == ["initiated", "submitted", state]
    assert (settled["mpesa_receipt"] is not None) == (state == "paid")


def test_sandbox_test_number_never_answers(service: RunningService, sim):
    response = service.pay("254708374149")
    settled = service.wait_for_state(response.json()["id"])
    assert (settled["state"], settled["result_code"]) == ("failed", 1037)


def test_amount_comes_from_the_package_never_the_client(service: RunningService, sim):
    refused = service.pay(phone(), amount=1)
    assert refused.status_code == 422
    assert "amount" in refused.json()["detail"]

    accepted = service.pay(phone(), package_id="usdt-50")
    assert accepted.json()["amount_kes"] == 6500
    assert sim.pushes()[-1]["body"]["Amount"] == 6500


def test_push_carries_the_normalised_number_and_a_clean_callback_url(service: RunningService, sim):
    local = phone()
    payment = service.pay(local.replace("07", "+2547", 1)).json()
    body = sim.pushes()[-1]["body"]
    assert body["PhoneNumber"] == body["PartyA"] == msisdn(local)
    assert payment["id"].replace("-", "") in body["CallBackURL"]
    assert body["AccountReference"] == "GoLive"
    assert payment["phone"] == msisdn(local)[:6] + "***" + msisdn(local)[-3:]


def test_missing_callback_leaves_the_payment_submitted(service: RunningService, sim):
    payment = service.pay(phone("90")).json()
    after = service.wait_for_state(payment["id"], seconds=0.6)
    assert after["state"] == "submitted"
    assert sim.callbacks() == []


def test_duplicate_callback_is_applied_once(service: RunningService, sim, db):
    payment = service.pay(phone("91")).json()
    settled = service.wait_for_state(payment["id"])
    assert settled["state"] == "paid"
    # Both deliveries are stored raw; the second is recognised as a duplicate.
    rows = _wait_callbacks(db, payment["id"], count=2)
    assert sorted(status for (status,) in rows) == ["applied", "duplicate"]
    assert [step["to"] for step in service.payment(payment["id"])["history"]] == ["initiated", "submitted", "paid"]


def test_late_callback_still_settles(service: RunningService, sim):
    payment = service.pay(phone("92")).json()
    assert service.wait_for_state(payment["id"], seconds=0.2)["state"] == "submitted"
    assert service.wait_for_state(payment["id"], seconds=5)["state"] == "paid"


def test_unknown_result_code_goes_to_review(service: RunningService, sim):
    number = phone("55")
    sim.configure(outcomes={msisdn(number): "5555"})
    settled = service.wait_for_state(service.pay(number).json()["id"])
    assert (settled["state"], settled["needs_review"], settled["result_code"]) == ("unknown", True, 5555)


def test_configuration_error_2028_fails_and_counts(service: RunningService, sim):
    number = phone("56")
    sim.configure(outcomes={msisdn(number): "2028"})
    settled = service.wait_for_state(service.pay(number).json()["id"])
    assert (settled["state"], settled["result_code"]) == ("failed", 2028)
    metrics = service.http.get("/metrics").text
    assert "golive_daraja_config_errors_total 1.0" in metrics or "golive_daraja_config_errors_total" in metrics


def _wait_callbacks(db, payment_id: str, count: int) -> list[tuple[str]]:
    query = "SELECT status FROM stk_callbacks WHERE payment_id = %s AND status <> 'received'"

    def done() -> bool:
        return len(db.execute(query, (payment_id,)).fetchall()) >= count

    wait_until(done, f"{count} processed callbacks")
    return db.execute(query, (payment_id,)).fetchall()
