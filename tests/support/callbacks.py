"""Daraja callback bodies (the shape in daraja.md) and their delivery, for tests that play Safaricom."""

from __future__ import annotations

import json
import uuid

import httpx

from app.payments.callback_token import callback_url
from tests.support.service import RunningService


def success(
    checkout_id: str, *, amount: float = 1300.0, receipt: str | None = None, phone: int = 254708374100
) -> bytes:
    items = [
        {"Name": "Amount", "Value": amount},
        {"Name": "MpesaReceiptNumber", "Value": receipt or uuid.uuid4().hex[:10].upper()},
        {"Name": "Balance"},
        {"Name": "TransactionDate", "Value": 20261126102115},
        {"Name": "PhoneNumber", "Value": phone},
    ]
    return _body(checkout_id, 0, "The service request is processed successfully.", {"Item": items})


def failure(checkout_id: str, code: int, description: str = "Request cancelled by user") -> bytes:
    return _body(checkout_id, code, description, None)


def _body(checkout_id: str, code: int, description: str, metadata: dict | None) -> bytes:
    callback = {"MerchantRequestID": "29115-34620561-1", "CheckoutRequestID": checkout_id, "ResultCode": code,
                "ResultDesc": description}  # fmt: skip
    if metadata is not None:
        callback["CallbackMetadata"] = metadata
    return json.dumps({"Body": {"stkCallback": callback}}).encode()


def path_for(service: RunningService, payment_id: str) -> str:
    secret = service.settings.callback_secret.get_secret_value()  # type: ignore[union-attr]
    return callback_url("", secret, uuid.UUID(payment_id))


def deliver(service: RunningService, payment_id: str, body: bytes, **headers: str) -> httpx.Response:
    return service.http.post(
        path_for(service, payment_id), content=body,
        headers={"Content-Type": "application/json;charset=UTF-8", "Businessshortcode": "174379", **headers},
    )  # fmt: skip
