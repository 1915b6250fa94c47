"""Request bodies of the manual recovery endpoints (/api/admin/recovery/...)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

REASON_FIELD = Field(min_length=1, max_length=1000, description="Why (recorded with your key's name)")


def _written(value: str) -> str:
    stripped = value.strip()
    if not stripped:
        raise ValueError("must be a written reason, not blank")
    return stripped


class ResolveRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"outcome": "paid", "reason": "Confirmed on the M-Pesa portal (ticket 4411)"}]},
    )

    outcome: Literal["paid", "failed", "reviewed"] = Field(
        description="paid / failed: settle an open or unknown payment; reviewed: a flagged payment is fine as it is"
    )
    reason: str = REASON_FIELD
    mpesa_receipt: str | None = Field(None, pattern=r"^[A-Z0-9]{1,20}$", description="With paid, when known")

    _reason = field_validator("reason")(classmethod(lambda cls, value: _written(value)))


class RetryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("manual retry", min_length=1, max_length=1000, description="Recorded with your key's name")

    _reason = field_validator("reason")(classmethod(lambda cls, value: _written(value)))
