"""What each callback does to a payment in each state (app.payments.callback_decision, pure)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.mpesa.callback_parse import StkCallback
from app.payments.callback_decision import APPLIED, CONFLICT, DUPLICATE, IGNORED, decide
from app.payments.model import Payment

NOW = datetime(2026, 11, 26, tzinfo=UTC)
PAYMENT = Payment(
    id=uuid.uuid4(), idempotency_key="k" * 10, request_fingerprint="f", msisdn="254708374100", package_id="usdt-10",
    amount_kes=1300, wallet_address="0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", state="submitted",
    needs_review=False, merchant_request_id="m", checkout_request_id="ws_CO_1", mpesa_receipt=None, result_code=None,
    result_desc=None, failure_reason=None, retryable=False, submitted_at=NOW, settled_at=None, created_at=NOW,
    updated_at=NOW,
)  # fmt: skip


def callback(code: int, *, receipt: str | None = "NLJ7RT61SV", amount: str | None = "1300",
             checkout: str = "ws_CO_1") -> StkCallback:  # fmt: skip
    success = code == 0
    return StkCallback(
        merchant_request_id="m", checkout_request_id=checkout, result_code=code, result_desc="desc",
        amount=Decimal(amount) if success and amount else None, receipt=receipt if success else None,
        transaction_date=None, phone=None,
    )  # fmt: skip


def test_success_pays():
    decision = decide(PAYMENT, callback(0))
    assert (decision.status, decision.to_state) == (APPLIED, "paid")
    assert decision.fields["mpesa_receipt"] == "NLJ7RT61SV"


@pytest.mark.parametrize(("code", "retryable"), [(1, False), (17, True), (1001, True), (1032, False), (1037, False)])
def test_failures_fail(code, retryable):
    decision = decide(PAYMENT, callback(code))
    assert (decision.status, decision.to_state, decision.fields["retryable"]) == (APPLIED, "failed", retryable)


def test_2028_is_a_configuration_error():
    decision = decide(PAYMENT, callback(2028))
    assert (decision.to_state, decision.config_error) == ("failed", True)


@pytest.mark.parametrize("code", [4999, 5555, -1])
def test_unknown_codes_need_review(code):
    decision = decide(PAYMENT, callback(code))
    assert (decision.to_state, decision.needs_review) == ("unknown", True)


def test_success_is_never_downgraded():
    paid = replace(PAYMENT, state="paid", mpesa_receipt="NLJ7RT61SV", result_code=0)
    for code in (1, 1032, 5555):
        decision = decide(paid, callback(code))
        assert (decision.status, decision.to_state) == (IGNORED, None)


@pytest.mark.parametrize("state", ["payout_pending", "broadcast", "confirming", "completed", "payout_failed"])
def test_a_payment_being_paid_out_counts_as_paid(state):
    paying = replace(PAYMENT, state=state, mpesa_receipt="NLJ7RT61SV", result_code=0)
    assert decide(paying, callback(1032)).to_state is None
    assert decide(paying, callback(0)).status == DUPLICATE
    assert decide(paying, callback(0, receipt="ZZZZ999999")).status == CONFLICT


def test_same_success_twice_is_a_duplicate_other_receipt_a_conflict():
    paid = replace(PAYMENT, state="paid", mpesa_receipt="NLJ7RT61SV", result_code=0)
    assert decide(paid, callback(0)).status == DUPLICATE
    other = decide(paid, callback(0, receipt="ZZZZ999999"))
    assert (other.status, other.needs_review, other.to_state) == (CONFLICT, True, None)


def test_success_after_failure_pays():
    failed = replace(PAYMENT, state="failed", result_code=1037)
    assert decide(failed, callback(0)).to_state == "paid"


def test_repeated_failure_is_a_duplicate():
    failed = replace(PAYMENT, state="failed", result_code=1032)
    assert decide(failed, callback(1032)).status == DUPLICATE
    assert decide(failed, callback(1037)).status == IGNORED


def test_amount_mismatch_needs_review():
    decision = decide(PAYMENT, callback(0, amount="1"))
    assert (decision.to_state, decision.needs_review) == ("unknown", True)


def test_callback_for_another_checkout_request():
    assert decide(PAYMENT, callback(1032, checkout="ws_CO_2")).status == IGNORED
    success = decide(PAYMENT, callback(0, checkout="ws_CO_2"))
    assert (success.status, success.needs_review) == (CONFLICT, True)


def test_payment_whose_push_answer_was_lost_learns_its_checkout_request():
    lost = replace(PAYMENT, state="unknown", needs_review=True, checkout_request_id=None, merchant_request_id=None)
    decision = decide(lost, callback(0, checkout="ws_CO_9"))
    assert decision.to_state == "paid"
    assert decision.fields["checkout_request_id"] == "ws_CO_9"
    assert decision.fields["needs_review"] is False
