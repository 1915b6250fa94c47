"""The Daraja endpoints: OAuth, STK push, STK query, and 404.001.01 for anything else."""

import asyncio
import base64
import binascii
import hmac
import json
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from simulators.daraja import errors
from simulators.daraja.clock import iso_utc
from simulators.daraja.errors import DarajaError
from simulators.daraja.results import STILL_PROCESSING_CODE, STILL_PROCESSING_DESCRIPTION, query_description
from simulators.daraja.state import Push, SimulatorState
from simulators.daraja.validation import parse_json_object, parse_push, parse_query

ACCEPTED_DESCRIPTION = "Success. Request accepted for processing"
QUERY_ACCEPTED_DESCRIPTION = "The service request has been accepted successsfully"  # sic, as Safaricom spells it
EMPTY_PROCESSING_MESSAGE_SHARE = 0.25
DROPPED_ANSWER_HTML = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"

Handler = Callable[[Request, bytes, SimulatorState], Awaitable[Response]]


def daraja_endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Records the request, applies spike arrest and the response delay, and turns DarajaError into
    the error envelope."""

    async def endpoint(request: Request) -> Response:
        state: SimulatorState = request.app.state.simulator
        raw = await request.body()
        record = _record(request, raw)
        state.requests.append(record)
        try:
            if state.config.spike_arrest:
                raise errors.spike_arrest()
            response = await handler(request, raw, state)
        except DarajaError as error:
            response = error.response(state.ids.request_id())
        record["status"] = response.status_code
        if state.config.response_delay > 0:
            await asyncio.sleep(state.config.response_delay)
        return response

    return endpoint


@daraja_endpoint
async def generate_token(request: Request, _raw: bytes, state: SimulatorState) -> Response:
    if not _has_valid_basic_auth(request.headers.get("authorization", ""), state):
        raise errors.invalid_authentication()
    if request.query_params.get("grant_type") != "client_credentials":
        raise errors.invalid_grant_type()
    config = state.config
    token = state.ids.access_token()
    state.tokens.issue(token, config.token_ttl, invalidate_previous=config.invalidate_previous_token)
    expires_in = math.ceil(config.token_ttl)
    return JSONResponse(
        {"access_token": token, "expires_in": expires_in if config.expires_in_as_number else str(expires_in)}
    )


@daraja_endpoint
async def stk_push(request: Request, raw: bytes, state: SimulatorState) -> Response:
    _require_bearer_token(request, state)
    settings = state.settings
    push_request = parse_push(
        parse_json_object(raw),
        shortcode=settings.shortcode,
        passkey=settings.passkey,
        now=datetime.now(UTC),
        require_https=settings.require_https_callback,
    )
    push = state.accept_push(push_request)
    if state.config.drop_push_answer:
        # The push is accepted and its callback scheduled, but the client never learns the ids.
        return HTMLResponse(DROPPED_ANSWER_HTML, status_code=502)
    return JSONResponse(
        {
            "MerchantRequestID": push.merchant_request_id,
            "CheckoutRequestID": push.checkout_request_id,
            "ResponseCode": "0",
            "ResponseDescription": ACCEPTED_DESCRIPTION,
            "CustomerMessage": ACCEPTED_DESCRIPTION,
        }
    )


@daraja_endpoint
async def stk_query(request: Request, raw: bytes, state: SimulatorState) -> Response:
    _require_bearer_token(request, state)
    settings = state.settings
    query = parse_query(
        parse_json_object(raw), shortcode=settings.shortcode, passkey=settings.passkey, now=datetime.now(UTC)
    )
    push = state.pushes.get(query.checkout_request_id)
    if push is None:
        raise errors.invalid_field("CheckoutRequestID")
    if not push.is_settled(time.time()):
        return _still_processing(push, state)
    if state.random.random() < state.config.flaky_query_share:
        raise _being_processed(state)
    return _query_answer(push, str(push.result_code), query_description(push.result_code))


@daraja_endpoint
async def not_found(_request: Request, _raw: bytes, _state: SimulatorState) -> Response:
    raise errors.resource_not_found()


def _still_processing(push: Push, state: SimulatorState) -> Response:
    answer = state.config.pending_query_answer
    if answer == "random":
        answer = state.random.choice(("4999", "error"))
    if answer == "error":
        raise _being_processed(state)
    return _query_answer(push, STILL_PROCESSING_CODE, STILL_PROCESSING_DESCRIPTION)


def _being_processed(state: SimulatorState) -> DarajaError:
    if state.random.random() < EMPTY_PROCESSING_MESSAGE_SHARE:
        return errors.being_processed("")
    return errors.being_processed()


def _query_answer(push: Push, result_code: str, result_desc: str) -> JSONResponse:
    return JSONResponse(
        {
            "ResponseCode": "0",
            "ResponseDescription": QUERY_ACCEPTED_DESCRIPTION,
            "MerchantRequestID": push.merchant_request_id,
            "CheckoutRequestID": push.checkout_request_id,
            "ResultCode": result_code,
            "ResultDesc": result_desc,
        }
    )


def _has_valid_basic_auth(header: str, state: SimulatorState) -> bool:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    key, separator, secret = decoded.partition(":")
    settings = state.settings
    # Both comparisons always run, so timing does not tell which half was wrong.
    key_ok = hmac.compare_digest(key.encode(), settings.consumer_key.encode())
    secret_ok = hmac.compare_digest(secret.encode(), settings.consumer_secret.encode())
    return bool(separator) and key_ok and secret_ok


def _require_bearer_token(request: Request, state: SimulatorState) -> None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if state.config.force_invalid_token or scheme.lower() != "bearer" or not state.tokens.is_valid(token.strip()):
        raise errors.invalid_access_token()


def _record(request: Request, raw: bytes) -> dict[str, Any]:
    return {
        "method": request.method,
        "path": request.url.path,
        "query": request.url.query,
        "headers": _recorded_headers(request),
        "body": _recorded_body(raw),
        "status": None,
        "received_at": iso_utc(time.time()),
    }


def _recorded_headers(request: Request) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        # The consumer key and secret never leave the process.
        shown = "Basic <redacted>" if name == "authorization" and value.lower().startswith("basic") else value
        headers[name] = f"{headers[name]}, {shown}" if name in headers else shown
    return headers


def _recorded_body(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text
