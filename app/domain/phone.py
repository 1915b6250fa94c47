"""Kenyan mobile numbers (MSISDNs) as Daraja wants them: 12 digits, 2547XXXXXXXX or 2541XXXXXXXX."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[ .()\-]")
_ASCII_DIGITS = re.compile(r"[0-9]+")
_EXPECTED_FORMS = "07…, 01…, +254…, 254…"
_COUNTRY_CODE = "254"
_MOBILE_PREFIXES = ("7", "1")
_MSISDN_LENGTH = 12


class InvalidPhone(ValueError):
    """The input is not a Kenyan mobile number. The message never carries the number in clear."""


def normalise_msisdn(raw: str) -> str:
    """Any usual way of writing a Kenyan mobile number → "2547XXXXXXXX" / "2541XXXXXXXX"."""
    if not isinstance(raw, str):
        raise InvalidPhone(f"phone number must be a string: got {type(raw).__name__}")
    compact = _SEPARATORS.sub("", raw.strip())
    has_plus = compact.startswith("+")
    digits = compact.removeprefix("+")
    if not digits:
        raise InvalidPhone("phone number is empty")
    if not _ASCII_DIGITS.fullmatch(digits):
        raise InvalidPhone("phone number may only contain digits, an optional leading + and separators")
    if has_plus and not digits.startswith(_COUNTRY_CODE):
        raise InvalidPhone("phone number must be a Kenyan mobile number: the only country code accepted is +254")
    subscriber = _subscriber_part(digits, international=has_plus)
    if not subscriber.startswith(_MOBILE_PREFIXES):
        raise InvalidPhone("phone number must be a Kenyan mobile number: after 254 or 0 comes 7 or 1 (07…, 01…)")
    return _COUNTRY_CODE + subscriber


def _subscriber_part(digits: str, *, international: bool) -> str:
    """The 9 digits after the country code or the trunk 0."""
    if len(digits) == _MSISDN_LENGTH and digits.startswith(_COUNTRY_CODE):
        return digits[len(_COUNTRY_CODE) :]
    if not international and len(digits) == 10 and digits.startswith("0"):
        return digits[1:]
    # A 9-digit number starting with 0 is a 07…/01… number missing a digit, not a subscriber part.
    if not international and len(digits) == 9 and not digits.startswith("0"):
        return digits
    raise InvalidPhone(f"phone number must be a Kenyan mobile number ({_EXPECTED_FORMS}): got {len(digits)} digits")


def mask_msisdn(msisdn: str) -> str:
    """Keep the first 6 and last 3 digits (254708***149); anything not 12 digits becomes all stars."""
    if len(msisdn) == _MSISDN_LENGTH and _ASCII_DIGITS.fullmatch(msisdn):
        return f"{msisdn[:6]}***{msisdn[-3:]}"
    return "*" * len(msisdn)
