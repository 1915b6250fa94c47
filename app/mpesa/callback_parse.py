"""Daraja's STK callback body → StkCallback, or MalformedCallback naming what is wrong (pure: no I/O)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from app.domain.phone import InvalidPhone, normalise_msisdn
from app.mpesa.results import parse_result_code

NAIROBI = timezone(timedelta(hours=3), "Africa/Nairobi")

_RECEIPT = re.compile(r"[A-Z0-9]{1,20}")
_AMOUNT_TEXT = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_TRANSACTION_DATE = re.compile(r"[0-9]{14}")
_KNOWN_ITEMS = frozenset({"Amount", "MpesaReceiptNumber", "TransactionDate", "PhoneNumber"})
_SUCCESS = 0
# Only what the database can store: result codes are PostgreSQL integers, text holds no NUL, UTF-8 no lone
# surrogate, and an id is a unique-index key (bounded; Daraja's are ~30 characters). Refused here, a value never
# fails a write later, when the callback is already acknowledged (ResultDesc is stored cut to 500 characters).
INT32 = range(-(2**31), 2**31)
MAX_ID_LENGTH = 100


class MalformedCallback(ValueError):
    """The body cannot be trusted as an STK callback; the message names the problem."""


@dataclass(frozen=True)
class StkCallback:
    merchant_request_id: str
    checkout_request_id: str
    result_code: int
    result_desc: str
    amount: Decimal | None
    receipt: str | None
    transaction_date: datetime | None
    phone: str | None


def parse_stk_callback(raw: bytes) -> StkCallback:
    callback = _stk_callback_object(_load_json(raw))
    merchant_request_id = _id(callback.get("MerchantRequestID"), "MerchantRequestID")
    checkout_request_id = _checkout_request_id(callback.get("CheckoutRequestID"))
    result_code = _result_code(callback.get("ResultCode"))
    items = _metadata_items(callback.get("CallbackMetadata"))
    amount = _amount(items.get("Amount"))
    receipt = _receipt(items.get("MpesaReceiptNumber"))
    if result_code == _SUCCESS and amount is None:
        raise MalformedCallback("success callback without Amount")
    if result_code == _SUCCESS and receipt is None:
        raise MalformedCallback("success callback without MpesaReceiptNumber")
    return StkCallback(
        merchant_request_id=merchant_request_id,
        checkout_request_id=checkout_request_id,
        result_code=result_code,
        result_desc=_result_desc(callback.get("ResultDesc")),
        amount=amount,
        receipt=receipt,
        transaction_date=_transaction_date(items.get("TransactionDate")),
        phone=_phone(items.get("PhoneNumber")),
    )


def _load_json(raw: bytes) -> object:
    if not isinstance(raw, bytes | bytearray):
        raise TypeError(f"callback body must be bytes: got {type(raw).__name__}")
    try:
        text = bytes(raw).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedCallback(f"body is not UTF-8 (invalid byte at offset {exc.start})") from None
    if _too_deep(text):
        raise MalformedCallback("body is not JSON: nested too deeply")
    try:
        # Decimal keeps "1.00" exact; NaN/Infinity are not JSON, whatever Python's json module allows.
        return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except RecursionError:
        raise MalformedCallback("body is not JSON: nested too deeply") from None
    except (ValueError, ArithmeticError) as exc:
        raise MalformedCallback(f"body is not JSON: {exc}") from None


MAX_NESTING = 64


def _too_deep(text: str) -> bool:
    """Deep nesting is refused before json.loads: its C parser recurses, and with a raised recursion limit
    (some libraries raise it) a hostile body could overflow the C stack instead of raising RecursionError."""
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return False  # the common case, decided by two C-speed counts
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON value")


def _stk_callback_object(document: object) -> dict[str, object]:
    if not isinstance(document, dict):
        raise MalformedCallback("body is not a JSON object")
    body = _object(document.get("Body"), "Body")
    return _object(body.get("stkCallback"), "Body.stkCallback")


def _object(value: object, where: str) -> dict[str, object]:
    if value is None:
        raise MalformedCallback(f"missing {where}")
    if not isinstance(value, dict):
        raise MalformedCallback(f"{where} is not a JSON object")
    return value


def _string(value: object, field: str, max_length: int | None = None) -> str:
    if not isinstance(value, str):
        raise MalformedCallback(f"{field} is missing or not a string")
    if "\x00" in value:
        raise MalformedCallback(f"{field} holds a NUL character")
    if not value.isascii() and not _encodable(value):
        raise MalformedCallback(f"{field} holds a lone surrogate (not valid Unicode)")
    if max_length is not None and len(value) > max_length:
        raise MalformedCallback(f"{field} is longer than {max_length} characters")
    return value


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _id(value: object, field: str) -> str:
    return _string(value, field, MAX_ID_LENGTH)


def _checkout_request_id(value: object) -> str:
    checkout_request_id = _id(value, "CheckoutRequestID")
    if not checkout_request_id.strip():
        raise MalformedCallback("CheckoutRequestID is empty")
    return checkout_request_id


def _result_code(value: object) -> int:
    if value is None:
        raise MalformedCallback("missing ResultCode")
    code = parse_result_code(value)
    if code is None:
        raise MalformedCallback(f"ResultCode is not an integer: {_preview(value)}")
    if code not in INT32:
        raise MalformedCallback(f"ResultCode is out of range (a 32-bit integer): {_preview(value)}")
    return code


def _result_desc(value: object) -> str:
    # Informational only (branch on ResultCode): absent is tolerated, a non-string is not.
    if value is None:
        return ""
    return _string(value, "ResultDesc")


def _metadata_items(metadata: object) -> dict[str, object]:
    """The Values of the items we read, by Name (None for an item without a Value)."""
    if metadata is None:
        return {}
    items = _object(metadata, "CallbackMetadata").get("Item")
    if not isinstance(items, list):
        raise MalformedCallback("CallbackMetadata.Item is missing or not a list")
    values: dict[str, object] = {}
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, dict) or not isinstance(name := item.get("Name"), str):
            raise MalformedCallback("CallbackMetadata.Item holds an entry that is not an object with a Name")
        if name not in _KNOWN_ITEMS:
            continue
        if name in seen:
            raise MalformedCallback(f"CallbackMetadata.Item holds {name} twice")
        seen.add(name)
        values[name] = item.get("Value")
    return values


def _amount(value: object) -> Decimal | None:
    if value is None:
        return None
    amount: Decimal | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        amount = Decimal(value)
    elif isinstance(value, Decimal):  # NaN and Infinity were refused while decoding
        amount = value
    elif isinstance(value, str) and _AMOUNT_TEXT.fullmatch(value.strip()):
        amount = Decimal(value.strip())
    if amount is None or amount <= 0:
        raise MalformedCallback(f"Amount is not a positive number: {_preview(value)}")
    return amount


def _receipt(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _RECEIPT.fullmatch(value):
        raise MalformedCallback(f"MpesaReceiptNumber must be 1-20 upper-case letters and digits: {_preview(value)}")
    return value


def _transaction_date(value: object) -> datetime | None:
    if value is None:
        return None
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(text, str) and _TRANSACTION_DATE.fullmatch(text):
        year, month, day, hour, minute, second = (
            int(text[start:end]) for start, end in ((0, 4), (4, 6), (6, 8), (8, 10), (10, 12), (12, 14))
        )
        try:
            return datetime(year, month, day, hour, minute, second, tzinfo=NAIROBI)
        except ValueError:
            pass
    raise MalformedCallback(f"TransactionDate is not a YYYYMMDDHHmmss time: {_preview(value)}")


def _phone(value: object) -> str | None:
    # Informational (the payment is found by CheckoutRequestID): a masked or hashed number, as
    # Safaricom has been reported to send, must not make a paid callback unreadable.
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        return normalise_msisdn(str(value))
    except InvalidPhone:
        return None


def _preview(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
