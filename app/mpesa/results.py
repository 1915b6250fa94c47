"""Daraja result codes → what they mean for a payment (daraja.md, "Result codes")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

PaymentOutcome = Literal["paid", "failed", "pending", "unknown"]

# Canonical ASCII decimal only: "00", "+0", "1_032" or non-ASCII digits must not read as a known code.
_RESULT_CODE = re.compile(r"0|-?[1-9][0-9]{0,11}")
_STILL_PROCESSING_ERROR = "500.001.1001"


@dataclass(frozen=True)
class ResultClass:
    outcome: PaymentOutcome
    retryable: bool
    config_error: bool
    reason: str


def _failed(reason: str, *, retryable: bool = False, config_error: bool = False) -> ResultClass:
    return ResultClass(outcome="failed", retryable=retryable, config_error=config_error, reason=reason)


_BY_CODE: Final[dict[int, ResultClass]] = {
    0: ResultClass(outcome="paid", retryable=False, config_error=False, reason="success"),
    1: _failed("insufficient balance"),
    2: _failed("amount below the minimum"),
    3: _failed("amount above the maximum"),
    4: _failed("daily limit exceeded"),
    8: _failed("payee balance limit reached"),
    17: _failed("same amount to the same customer within 2 minutes: retry after 2 minutes", retryable=True),
    1001: _failed("subscriber locked by another session", retryable=True),
    1019: _failed("transaction expired"),
    1025: _failed("error sending the push", retryable=True),
    1032: _failed("cancelled by user"),
    1037: _failed("user unreachable or did not respond"),
    2001: _failed("wrong PIN"),
    2028: _failed("wrong TransactionType or PartyB: configuration error", config_error=True),
    4999: ResultClass(outcome="pending", retryable=False, config_error=False, reason="still processing"),
    9999: _failed("error sending the push", retryable=True),
}

_UNKNOWN: Final = ResultClass(
    outcome="unknown", retryable=False, config_error=False, reason="unrecognised result code: needs review"
)


def parse_result_code(code: object) -> int | None:
    """An int, or a canonical decimal string (surrounding whitespace allowed), as an int; else None."""
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str) and _RESULT_CODE.fullmatch(stripped := code.strip()):
        return int(stripped)
    return None


def classify_result(code: int | str) -> ResultClass:
    """Never "failed" or "paid" for a code outside daraja.md's table: those are "unknown" (review)."""
    parsed = parse_result_code(code)
    if parsed is None:
        return _UNKNOWN
    return _BY_CODE.get(parsed, _UNKNOWN)


def is_processing_error(error_code: str) -> bool:
    """500.001.1001 from the query means "ask again later", never "failed"."""
    return isinstance(error_code, str) and error_code.strip() == _STILL_PROCESSING_ERROR
