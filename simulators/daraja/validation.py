"""Field rules of the STK push and STK query bodies (daraja.md's table). A bad field raises
400.002.02 naming it; a wrong Password raises 500.001.1001 as the sandbox does for bad credentials."""

import base64
import hmac
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from simulators.daraja.clock import parse_daraja_timestamp
from simulators.daraja.errors import invalid_field, merchant_does_not_exist

TRANSACTION_TYPES = ("CustomerPayBillOnline", "CustomerBuyGoodsOnline")
MIN_AMOUNT = 1
MAX_AMOUNT = 250_000
TIMESTAMP_TOLERANCE = timedelta(hours=1)
FORBIDDEN_CALLBACK_WORDS = ("mpesa", "safaricom", "query", "exe", "exec", "cmd", "sql")

_SHORTCODE = re.compile(r"[0-9]{5,7}")
_MSISDN = re.compile(r"254[71][0-9]{8}")
_ACCOUNT_REFERENCE = re.compile(r"[A-Za-z0-9]{1,12}")
_TRANSACTION_DESC = re.compile(r"[A-Za-z0-9 ]{1,13}")
_DECIMAL_TEXT = re.compile(r"[0-9]+(\.[0-9]+)?")


@dataclass(frozen=True)
class PushRequest:
    short_code: str
    timestamp: str
    transaction_type: str
    amount: int
    party_a: str
    party_b: str
    phone_number: str
    callback_url: str
    account_reference: str
    transaction_desc: str


@dataclass(frozen=True)
class QueryRequest:
    short_code: str
    timestamp: str
    checkout_request_id: str


def parse_json_object(raw: bytes) -> dict:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise invalid_field("Body") from None
    if not isinstance(body, dict):
        raise invalid_field("Body")
    return body


def parse_push(body: dict, *, shortcode: str, passkey: str, now: datetime, require_https: bool) -> PushRequest:
    short_code = _business_short_code(body, shortcode)
    password = _password(body)
    timestamp = _timestamp(body, now)
    push = PushRequest(
        short_code=short_code,
        timestamp=timestamp,
        transaction_type=_transaction_type(body),
        amount=_amount(body),
        party_a=_msisdn(body, "PartyA"),
        party_b=_digits(body, "PartyB", _SHORTCODE),
        phone_number=_msisdn(body, "PhoneNumber"),
        callback_url=_callback_url(body, require_https),
        account_reference=_string(body, "AccountReference", _ACCOUNT_REFERENCE),
        transaction_desc=_string(body, "TransactionDesc", _TRANSACTION_DESC),
    )
    _check_password(password, short_code, passkey, timestamp)
    return push


def parse_query(body: dict, *, shortcode: str, passkey: str, now: datetime) -> QueryRequest:
    short_code = _business_short_code(body, shortcode)
    password = _password(body)
    timestamp = _timestamp(body, now)
    checkout_request_id = body.get("CheckoutRequestID")
    if not isinstance(checkout_request_id, str) or not checkout_request_id:
        raise invalid_field("CheckoutRequestID")
    _check_password(password, short_code, passkey, timestamp)
    return QueryRequest(short_code=short_code, timestamp=timestamp, checkout_request_id=checkout_request_id)


def expected_password(short_code: str, passkey: str, timestamp: str) -> str:
    return base64.b64encode(f"{short_code}{passkey}{timestamp}".encode()).decode()


def _check_password(password: str, short_code: str, passkey: str, timestamp: str) -> None:
    if not hmac.compare_digest(password.encode(), expected_password(short_code, passkey, timestamp).encode()):
        raise merchant_does_not_exist()


def _text_of_number(value: object) -> str | None:
    """Daraja takes numeric fields as JSON numbers or strings; booleans are not numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    return None


def _digits(body: dict, name: str, pattern: re.Pattern[str]) -> str:
    text = _text_of_number(body.get(name))
    if text is None or not pattern.fullmatch(text):
        raise invalid_field(name)
    return text


def _business_short_code(body: dict, shortcode: str) -> str:
    short_code = _digits(body, "BusinessShortCode", _SHORTCODE)
    if short_code != shortcode:
        raise invalid_field("BusinessShortCode")
    return short_code


def _password(body: dict) -> str:
    password = body.get("Password")
    if not isinstance(password, str) or not password:
        raise invalid_field("Password")
    return password


def _timestamp(body: dict, now: datetime) -> str:
    text = _text_of_number(body.get("Timestamp"))
    moment = parse_daraja_timestamp(text) if text is not None else None
    if moment is None or abs(moment - now) > TIMESTAMP_TOLERANCE:
        raise invalid_field("Timestamp")
    return text


def _transaction_type(body: dict) -> str:
    value = body.get("TransactionType")
    if value not in TRANSACTION_TYPES:
        raise invalid_field("TransactionType")
    return value


def _amount(body: dict) -> int:
    """Whole KES: 100, 100.0 and "100" are fine; 10.5, "10.5", "1e3", true and "" are not."""
    value = body.get("Amount")
    is_number = isinstance(value, int) and not isinstance(value, bool)
    is_number = is_number or (isinstance(value, float) and math.isfinite(value))
    is_text = isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value) is not None
    amount = Decimal(value) if is_number or is_text else None
    if amount is None or amount != amount.to_integral_value():
        raise invalid_field("Amount")
    if not MIN_AMOUNT <= amount <= MAX_AMOUNT:
        raise invalid_field("Amount")
    return int(amount)


def _msisdn(body: dict, name: str) -> str:
    return _digits(body, name, _MSISDN)


def _callback_url(body: dict, require_https: bool) -> str:
    url = body.get("CallBackURL")
    if not isinstance(url, str) or any(character.isspace() for character in url):
        raise invalid_field("CallBackURL")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise invalid_field("CallBackURL") from None
    allowed_schemes = ("https",) if require_https else ("http", "https")
    if parts.scheme not in allowed_schemes or not host:
        raise invalid_field("CallBackURL")
    lowered = url.lower()
    if any(word in lowered for word in FORBIDDEN_CALLBACK_WORDS):
        raise invalid_field("CallBackURL")
    return url


def _string(body: dict, name: str, pattern: re.Pattern[str]) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise invalid_field(name)
    return value
