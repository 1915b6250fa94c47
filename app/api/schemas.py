"""Request and response bodies of the public API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.domain.phone import mask_msisdn, normalise_msisdn
from app.domain.wallet import validate_wallet_address
from app.payments.model import Payment


class PaymentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "phone": "0708374100",
                    "package_id": "usdt-10",
                    "wallet_address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                }
            ]
        },
    )

    phone: str = Field(max_length=32, description="Kenyan mobile number: 07…, 01…, +254… or 254…")
    package_id: str = Field(max_length=32, description="One of GET /api/packages; the price comes from it")
    wallet_address: str = Field(max_length=64, description="EIP-55 checksummed address receiving the USDT")

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalise_msisdn(value)

    @field_validator("wallet_address")
    @classmethod
    def _wallet(cls, value: str) -> str:
        return validate_wallet_address(value)


class PaymentOut(BaseModel):
    id: UUID
    state: Literal[
        "initiated",
        "submitted",
        "paid",
        "failed",
        "unknown",
        "payout_pending",
        "broadcast",
        "confirming",
        "completed",
        "payout_failed",
    ]
    needs_review: bool
    package_id: str
    amount_kes: int
    phone: str = Field(description="Masked")
    wallet_address: str
    mpesa_receipt: str | None
    result_code: int | None
    result_desc: str | None
    failure_reason: str | None
    retryable: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, payment: Payment) -> PaymentOut:
        return cls(
            id=payment.id,
            state=payment.state,
            needs_review=payment.needs_review,
            package_id=payment.package_id,  # type: ignore[arg-type]
            amount_kes=payment.amount_kes,
            phone=mask_msisdn(payment.msisdn),
            wallet_address=payment.wallet_address,
            mpesa_receipt=payment.mpesa_receipt,
            result_code=payment.result_code,
            result_desc=payment.result_desc,
            failure_reason=payment.failure_reason,
            retryable=payment.retryable,
            created_at=payment.created_at,
            updated_at=payment.updated_at,
        )


class PaymentEvent(BaseModel):
    from_state: str | None = Field(alias="from")
    to_state: str = Field(alias="to")
    reason: str
    at: datetime


class PaymentDetail(PaymentOut):
    history: list[PaymentEvent]


class PackageOut(BaseModel):
    id: str
    name: str
    price_kes: int
    usdt_amount: str


class FlagUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feature: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    enabled: bool
    percentage: int | None = Field(None, ge=0, le=100, description="Omitted: keep the current percentage")


class FlagOut(BaseModel):
    feature: str
    enabled: bool
    percentage: int


class ErrorOut(BaseModel):
    error: str
    detail: str
    payment_id: str | None = None
