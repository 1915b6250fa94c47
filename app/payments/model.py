"""A payment as the service sees it, and the states it moves through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

INITIATED, SUBMITTED, PAID, FAILED, UNKNOWN = "initiated", "submitted", "paid", "failed", "unknown"
# States a callback or a query may still settle.
OPEN_STATES = (INITIATED, SUBMITTED, UNKNOWN)
# After the M-Pesa payment: the USDT payout (revision 0002).
PAYOUT_PENDING, BROADCAST, CONFIRMING, COMPLETED, PAYOUT_FAILED = (
    "payout_pending",
    "broadcast",
    "confirming",
    "completed",
    "payout_failed",
)
# The customer has paid in every one of these: a later M-Pesa callback may never undo that.
PAID_STATES = (PAID, PAYOUT_PENDING, BROADCAST, CONFIRMING, COMPLETED, PAYOUT_FAILED)

PAYMENT_COLUMNS = (
    "id, idempotency_key, request_fingerprint, msisdn, package_id, amount_kes, wallet_address, state,"
    " needs_review, merchant_request_id, checkout_request_id, mpesa_receipt, result_code, result_desc,"
    " failure_reason, retryable, submitted_at, settled_at, created_at, updated_at"
)


@dataclass(frozen=True)
class Payment:
    id: UUID
    idempotency_key: str
    request_fingerprint: str
    msisdn: str
    package_id: str
    amount_kes: int
    wallet_address: str
    state: str
    needs_review: bool
    merchant_request_id: str | None
    checkout_request_id: str | None
    mpesa_receipt: str | None
    result_code: int | None
    result_desc: str | None
    failure_reason: str | None
    retryable: bool
    submitted_at: datetime | None
    settled_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Package:
    id: str
    name: str
    price_kes: int
    usdt_amount: str
