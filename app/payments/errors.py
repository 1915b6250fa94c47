"""Why a payment request was refused, with the HTTP answer each reason deserves."""

from __future__ import annotations


class PaymentRefused(Exception):
    status_code = 400
    code = "refused"

    def __init__(self, message: str, *, payment_id: str | None = None, retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.payment_id = payment_id
        self.retry_after = retry_after


class UnknownPackage(PaymentRefused):
    status_code, code = 422, "unknown_package"


class IdempotencyConflict(PaymentRefused):
    status_code, code = 409, "idempotency_key_reused"


class NotInRollout(PaymentRefused):
    status_code, code = 503, "payments_not_available"


class MpesaRejected(PaymentRefused):
    status_code, code = 422, "mpesa_rejected"


class MpesaBusy(PaymentRefused):
    status_code, code = 503, "mpesa_busy"


class MpesaUnavailable(PaymentRefused):
    status_code, code = 503, "mpesa_unavailable"
