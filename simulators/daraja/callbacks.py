"""Result callbacks: the body Safaricom posts to CallBackURL, and the sender that posts it once, from
the configured source address, never retrying."""

import asyncio
import json
import time
from typing import Any

import httpx

from simulators.daraja.clock import iso_utc

CALLBACK_TIMEOUT_SECONDS = 10.0
# httpx slows down sharply when many requests wait for its connection pool, so callbacks beyond this
# many in flight wait their turn here instead (a burst of settled pushes would otherwise starve the
# event loop that answers Daraja requests).
MAX_CALLBACKS_IN_FLIGHT = 32


def callback_body(
    *,
    merchant_request_id: str,
    checkout_request_id: str,
    result_code: int,
    result_desc: str,
    amount: int,
    receipt_number: str | None,
    transaction_date: int | None,
    phone_number: str,
) -> dict[str, Any]:
    callback: dict[str, Any] = {
        "MerchantRequestID": merchant_request_id,
        "CheckoutRequestID": checkout_request_id,
        "ResultCode": result_code,
        "ResultDesc": result_desc,
    }
    if result_code == 0:
        callback["CallbackMetadata"] = {
            "Item": [
                {"Name": "Amount", "Value": float(amount)},
                {"Name": "MpesaReceiptNumber", "Value": receipt_number},
                {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": transaction_date},
                {"Name": "PhoneNumber", "Value": int(phone_number)},
            ]
        }
    return {"Body": {"stkCallback": callback}}


class CallbackSender:
    def __init__(self, *, source_address: str, shortcode: str) -> None:
        # The client ignores proxy variables (callbacks go straight to the receiver); the transport
        # still honours SSL_CERT_FILE / SSL_CERT_DIR for https receivers with a private CA.
        self._client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(
                local_address=source_address, limits=httpx.Limits(max_connections=MAX_CALLBACKS_IN_FLIGHT)
            ),
            timeout=CALLBACK_TIMEOUT_SECONDS,
            trust_env=False,
        )
        self._in_flight = asyncio.Semaphore(MAX_CALLBACKS_IN_FLIGHT)
        self._headers = {"Businessshortcode": shortcode, "Content-Type": "application/json;charset=UTF-8"}

    async def send(self, url: str, body: dict[str, Any], checkout_request_id: str) -> dict[str, Any]:
        """Posts once and returns the record of what happened: a status, or the error text."""
        record: dict[str, Any] = {
            "checkout_request_id": checkout_request_id,
            "url": url,
            "body": body,
            "status": None,
            "error": None,
            "sent_at": None,
        }
        content = json.dumps(body, separators=(",", ":")).encode()
        try:
            async with self._in_flight:
                record["sent_at"] = iso_utc(time.time())
                response = await self._client.post(url, content=content, headers=self._headers)
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as error:
            record["error"] = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        else:
            record["status"] = response.status_code
        return record

    async def aclose(self) -> None:
        await self._client.aclose()
