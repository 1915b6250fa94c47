"""Builds STK push and query bodies (pure: no I/O)."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

from app.settings import Settings

NAIROBI = timezone(timedelta(hours=3), "EAT")


def timestamp(now: datetime) -> str:
    return now.astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def password(shortcode: str, passkey: str, stamp: str) -> str:
    return base64.b64encode(f"{shortcode}{passkey}{stamp}".encode()).decode()


def _credentials(settings: Settings, now: datetime) -> dict[str, str]:
    stamp = timestamp(now)
    secret = settings.daraja_passkey.get_secret_value()
    return {
        "BusinessShortCode": settings.daraja_shortcode,
        "Password": password(settings.daraja_shortcode, secret, stamp),
        "Timestamp": stamp,
    }


def stk_push_body(
    settings: Settings, *, msisdn: str, amount_kes: int, callback_url: str, now: datetime
) -> dict[str, object]:
    return {
        **_credentials(settings, now),
        "TransactionType": settings.daraja_transaction_type,
        "Amount": amount_kes,
        "PartyA": msisdn,
        "PartyB": settings.party_b,
        "PhoneNumber": msisdn,
        "CallBackURL": callback_url,
        "AccountReference": settings.daraja_account_reference,
        "TransactionDesc": settings.daraja_transaction_desc,
    }


def stk_query_body(settings: Settings, *, checkout_request_id: str, now: datetime) -> dict[str, str]:
    return {**_credentials(settings, now), "CheckoutRequestID": checkout_request_id}
