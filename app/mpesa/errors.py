"""What can go wrong talking to Daraja, sorted by what it means for a payment."""

from __future__ import annotations

from enum import StrEnum


class DarajaFailure(StrEnum):
    # Daraja answered and refused: nothing reached the payer, the payment can be marked failed.
    REJECTED = "rejected"
    # Spike arrest or quota: refused, come back later.
    RATE_LIMITED = "rate_limited"
    # Our credentials or merchant configuration are wrong: an operator must act.
    CREDENTIALS = "credentials"
    # The access token was refused (404.001.03): refresh once and retry once.
    INVALID_TOKEN = "invalid_token"  # noqa: S105 (a name, not a secret)
    # The connection was never made: nothing was sent.
    UNAVAILABLE = "unavailable"
    # The request may have been accepted but the answer was lost: never resend blindly.
    OUTCOME_UNKNOWN = "outcome_unknown"


RATE_LIMIT_CODES = {"500.003.02", "500.003.03"}
CREDENTIAL_CODES = {"400.008.01", "400.008.02"}


class DarajaError(Exception):
    def __init__(
        self, failure: DarajaFailure, message: str, *, error_code: str | None = None, http_status: int | None = None
    ) -> None:
        super().__init__(message)
        self.failure = failure
        self.error_code = error_code
        self.http_status = http_status
        self.message = message

    @property
    def metric_label(self) -> str:
        return self.error_code or self.failure.value


def classify_envelope(error_code: str) -> DarajaFailure:
    """Daraja's error envelope → what it means for us (daraja.md, "Error envelope")."""
    if error_code == "404.001.03":
        return DarajaFailure.INVALID_TOKEN
    if error_code in RATE_LIMIT_CODES:
        return DarajaFailure.RATE_LIMITED
    if error_code in CREDENTIAL_CODES or error_code == "500.001.1001":
        return DarajaFailure.CREDENTIALS
    if error_code.startswith(("400.", "404.")):
        return DarajaFailure.REJECTED
    # An internal error (500.003.1001 and unlisted 5xx codes): Daraja may have half-processed it.
    return DarajaFailure.OUTCOME_UNKNOWN
