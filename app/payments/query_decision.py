"""What a definite STK Push Query answer does to a payment: the callback rules (callback_decision.decide) applied
to the answer, except for a success, which by query carries neither a receipt number nor an amount (pure).

- A failure or an unrecognised code is decided exactly as a callback with that ResultCode would be.
- A success settles an open (or failed) payment as paid without a receipt: the push was for the package's price and
  the query names that push's CheckoutRequestID. A later success callback fills the receipt in (callback_decision).
- A success never changes a payment already paid, nor one held for review after a success (result code 0 already
  recorded, e.g. an amount that differed from the price): the query cannot answer that question.
"""

from __future__ import annotations

from app.mpesa.callback_parse import StkCallback
from app.mpesa.client import QueryAnswer
from app.mpesa.results import classify_result, parse_result_code
from app.payments.callback_decision import APPLIED, DUPLICATE, CallbackDecision, decide
from app.payments.model import FAILED, OPEN_STATES, PAID, PAID_STATES, UNKNOWN, Payment

BY_QUERY = " (STK query)"


def decide_query(payment: Payment, answer: QueryAnswer) -> CallbackDecision:
    if answer.result_code is None:
        raise ValueError("a pending answer (ask later) decides nothing")
    code = parse_result_code(answer.result_code)
    desc = answer.result_desc[:500]
    if code is None:
        return CallbackDecision(
            APPLIED,
            f"unreadable result code {answer.result_code[:20]!r}{BY_QUERY}: needs review",
            to_state=UNKNOWN,
            allowed_from=OPEN_STATES,
            needs_review=True,
            fields={"result_desc": desc, "needs_review": True, "failure_reason": "unreadable STK query result code"},
        )
    if classify_result(code).outcome != "paid":
        synthetic = StkCallback(
            merchant_request_id=payment.merchant_request_id or "",
            checkout_request_id=payment.checkout_request_id or "",
            result_code=code,
            result_desc=desc,
            amount=None,
            receipt=None,
            transaction_date=None,
            phone=None,
        )
        decision = decide(payment, synthetic)
        return CallbackDecision(**{**vars(decision), "reason": decision.reason + BY_QUERY})
    if payment.state in PAID_STATES:
        return CallbackDecision(DUPLICATE, "success already recorded" + BY_QUERY)
    if payment.state == UNKNOWN and payment.result_code == 0:
        return CallbackDecision(DUPLICATE, "success already known; the payment stays held for review" + BY_QUERY)
    return CallbackDecision(
        APPLIED,
        "paid" + BY_QUERY + ": no receipt number until a callback brings one",
        to_state=PAID,
        allowed_from=(*OPEN_STATES, FAILED),
        fields={"result_code": code, "result_desc": desc, "needs_review": False, "retryable": False},
    )
