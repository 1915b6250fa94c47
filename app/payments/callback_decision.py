"""What a parsed STK callback does to a payment (pure: no I/O, so every rule is unit-tested).

Rules: branch on ResultCode only; a success is never downgraded; a success whose amount differs
from the price, or a second success with another receipt, goes to a person; unknown codes are
neither paid nor failed but `unknown` (needs review).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app.mpesa.callback_parse import StkCallback
from app.mpesa.results import classify_result
from app.payments.model import FAILED, OPEN_STATES, PAID, PAID_STATES, UNKNOWN, Payment

APPLIED, DUPLICATE, IGNORED, CONFLICT = "applied", "duplicate", "ignored", "conflict"


@dataclass(frozen=True)
class CallbackDecision:
    status: str
    reason: str
    to_state: str | None = None
    allowed_from: tuple[str, ...] = ()
    needs_review: bool = False
    config_error: bool = False
    fields: dict[str, Any] = field(default_factory=dict)


def decide(payment: Payment, callback: StkCallback) -> CallbackDecision:
    success = classify_result(callback.result_code).outcome == "paid"
    if payment.checkout_request_id and payment.checkout_request_id != callback.checkout_request_id:
        if success:
            return CallbackDecision(CONFLICT, "success callback for another CheckoutRequestID", needs_review=True)
        return CallbackDecision(IGNORED, "callback for another CheckoutRequestID")
    if success:
        return _success(payment, callback)
    return _not_success(payment, callback)


def _settles(callback: StkCallback, payment: Payment) -> dict[str, Any]:
    fields: dict[str, Any] = {"result_code": callback.result_code, "result_desc": callback.result_desc[:500]}
    if payment.checkout_request_id is None:
        fields["checkout_request_id"] = callback.checkout_request_id
        fields["merchant_request_id"] = callback.merchant_request_id
    return fields


def _success(payment: Payment, callback: StkCallback) -> CallbackDecision:
    amount_differs = callback.amount is None or Decimal(callback.amount) != Decimal(payment.amount_kes)
    if payment.state in PAID_STATES:
        if payment.mpesa_receipt == callback.receipt:
            return CallbackDecision(DUPLICATE, "success already recorded")
        if payment.mpesa_receipt is None and payment.result_code == 0 and not amount_differs:
            # Paid earlier by an STK query, which carries no receipt: this callback brings it (state unchanged).
            return CallbackDecision(
                APPLIED,
                "receipt recorded (paid earlier by STK query)",
                to_state=payment.state,
                allowed_from=(payment.state,),
                fields={"mpesa_receipt": callback.receipt},
            )
        return CallbackDecision(CONFLICT, "second success with a different receipt", needs_review=True)
    settles = _settles(callback, payment)
    if amount_differs:
        return CallbackDecision(
            APPLIED,
            f"paid amount {callback.amount} differs from the price {payment.amount_kes}",
            to_state=UNKNOWN,
            allowed_from=(*OPEN_STATES, FAILED),
            needs_review=True,
            fields={**settles, "mpesa_receipt": callback.receipt, "needs_review": True},
        )
    return CallbackDecision(
        APPLIED,
        "paid (callback)",
        to_state=PAID,
        allowed_from=(*OPEN_STATES, FAILED),
        fields={**settles, "mpesa_receipt": callback.receipt, "needs_review": False, "retryable": False},
    )


def _not_success(payment: Payment, callback: StkCallback) -> CallbackDecision:
    result = classify_result(callback.result_code)
    if payment.state in PAID_STATES:
        return CallbackDecision(IGNORED, f"result {callback.result_code} after success: never downgraded")
    if payment.state in (FAILED, UNKNOWN) and payment.result_code == callback.result_code:
        return CallbackDecision(DUPLICATE, "result already recorded")
    if result.outcome == "failed" and payment.state in OPEN_STATES:
        return CallbackDecision(
            APPLIED,
            f"failed: {result.reason}",
            to_state=FAILED,
            allowed_from=OPEN_STATES,
            config_error=result.config_error,
            fields={
                **_settles(callback, payment),
                "failure_reason": result.reason,
                "retryable": result.retryable,
                "needs_review": False,
            },
        )
    if result.outcome == "failed":
        return CallbackDecision(IGNORED, f"payment already {payment.state}")
    return CallbackDecision(
        APPLIED,
        f"unrecognised result code {callback.result_code}: needs review",
        to_state=UNKNOWN,
        allowed_from=OPEN_STATES,
        needs_review=True,
        fields={**_settles(callback, payment), "needs_review": True, "failure_reason": result.reason},
    )
