"""Daraja API client: OAuth through the shared token store, STK push and query, errors sorted by
what they mean for the payment (see app.mpesa.errors). Every call has a timeout."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp

from app.metrics import DARAJA_ERRORS, DARAJA_REQUEST_DURATION
from app.mpesa.errors import DarajaError, DarajaFailure, classify_envelope
from app.mpesa.stk_request import stk_query_body
from app.mpesa.token_store import SharedTokenStore
from app.settings import Settings

OAUTH_PATH = "/oauth/v1/generate?grant_type=client_credentials"
PUSH_PATH = "/mpesa/stkpush/v1/processrequest"
QUERY_PATH = "/mpesa/stkpushquery/v1/query"
AUTH_PROBE_CHECKOUT_ID = "ws_CO_00000000000000golive0auth"
# Failures before a byte of the request left: safe to call "not sent".
NEVER_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
# Idle keep-alive connections are dropped before the server's own timeout (uvicorn: 5 s), so a request never
# goes out on a connection the server is closing — that race would make a sent push's answer "lost".
KEEPALIVE_SECONDS = 2.0


@dataclass(frozen=True)
class PushAccepted:
    merchant_request_id: str
    checkout_request_id: str


@dataclass(frozen=True)
class QueryAnswer:
    """result_code None means "still being processed: ask again later"."""

    result_code: str | None
    result_desc: str


def build_http_client(settings: Settings) -> aiohttp.ClientSession:
    """aiohttp rather than httpx: measured at about half the CPU per STK push (bench/README.md)."""
    timeout = aiohttp.ClientTimeout(
        total=settings.daraja_timeout_seconds, connect=settings.daraja_connect_timeout_seconds
    )
    connector = aiohttp.TCPConnector(limit=100, keepalive_timeout=KEEPALIVE_SECONDS)
    return aiohttp.ClientSession(
        base_url=settings.daraja_base_url + "/", timeout=timeout, connector=connector, raise_for_status=False
    )


class DarajaClient:
    def __init__(self, settings: Settings, http: aiohttp.ClientSession, tokens: SharedTokenStore):
        self._settings = settings
        self._http = http
        self._tokens = tokens

    async def token(self) -> str:
        return await self._tokens.get(self.fetch_token)

    async def fetch_token(self) -> tuple[str, int]:
        """A brand-new token from Daraja. Only the token store calls this (it invalidates the old one)."""
        key = self._settings.daraja_consumer_key
        secret = self._settings.daraja_consumer_secret
        assert key is not None and secret is not None, "settings fill generated secrets outside production"
        basic = base64.b64encode(f"{key.get_secret_value()}:{secret.get_secret_value()}".encode()).decode()
        answer = await self._send("oauth", "GET", OAUTH_PATH, None, f"Basic {basic}")
        try:
            return str(answer["access_token"]), int(float(str(answer["expires_in"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise self._bad_answer("oauth", f"OAuth answer without a usable token ({exc})") from None

    async def stk_push(self, body: dict[str, object]) -> PushAccepted:
        answer = await self._authorised("stkpush", PUSH_PATH, body)
        if str(answer.get("ResponseCode")) != "0":
            description = str(answer.get("ResponseDescription") or answer.get("errorMessage") or "refused")
            DARAJA_ERRORS.labels("stkpush", f"response_{answer.get('ResponseCode')}").inc()
            raise DarajaError(DarajaFailure.REJECTED, f"Daraja refused the push: {description}")
        checkout, merchant = answer.get("CheckoutRequestID"), answer.get("MerchantRequestID")
        if not isinstance(checkout, str) or not checkout:
            raise self._bad_answer("stkpush", "push accepted without a CheckoutRequestID")
        return PushAccepted(str(merchant or ""), checkout)

    async def check_auth(self) -> None:
        """Proves the shared token works end to end, with no side effect: a query for a request that
        cannot exist is refused for its id (400.002.02) — not for the token, which would be 404.001.03."""
        try:
            await self.stk_query(AUTH_PROBE_CHECKOUT_ID)
        except DarajaError as exc:
            if exc.failure is not DarajaFailure.REJECTED:
                raise

    async def stk_query(self, checkout_request_id: str) -> QueryAnswer:
        body = stk_query_body(self._settings, checkout_request_id=checkout_request_id, now=datetime.now(UTC))
        try:
            answer = await self._authorised("stkquery", QUERY_PATH, body)
        except DarajaError as exc:
            if exc.error_code == "500.001.1001":
                return QueryAnswer(None, exc.message or "The transaction is being processed")
            raise
        code = answer.get("ResultCode")
        if code is None:
            raise self._bad_answer("stkquery", "query answer without a ResultCode")
        if str(code).strip() == "4999":
            return QueryAnswer(None, str(answer.get("ResultDesc", "still under processing")))
        return QueryAnswer(str(code).strip(), str(answer.get("ResultDesc", "")))

    async def _authorised(self, operation: str, path: str, body: dict[str, object]) -> dict:
        token = await self._token_for_call(self.token())
        try:
            return await self._send(operation, "POST", path, body, f"Bearer {token}")
        except DarajaError as exc:
            if exc.failure is not DarajaFailure.INVALID_TOKEN:
                raise
        # 404.001.03: the request was refused at the gateway, so one retry with a new token is safe.
        token = await self._token_for_call(self._tokens.replace(token, self.fetch_token))
        return await self._send(operation, "POST", path, body, f"Bearer {token}")

    @staticmethod
    async def _token_for_call(getting: Awaitable[str]) -> str:
        """No token means the call itself was never sent, whatever went wrong getting one."""
        try:
            return await getting
        except DarajaError as exc:
            if exc.failure in (DarajaFailure.CREDENTIALS, DarajaFailure.RATE_LIMITED):
                raise
            raise DarajaError(DarajaFailure.UNAVAILABLE, f"no access token: {exc.message}") from exc

    async def _send(self, operation: str, method: str, path: str, body: dict | None, authorization: str) -> dict:
        started = time.perf_counter()
        outcome = "ok"
        try:
            async with self._http.request(
                method, path.lstrip("/"), json=body, headers={"Authorization": authorization}
            ) as response:
                status, raw = response.status, await response.read()
            answer = self._decode(operation, status, raw)
        except NEVER_SENT as exc:
            outcome = "connect_error"
            message = f"cannot reach Daraja ({type(exc).__name__})"
            raise self._error(operation, DarajaFailure.UNAVAILABLE, message) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            outcome = "timeout" if isinstance(exc, TimeoutError) else "transport_error"
            raise self._error(
                operation, DarajaFailure.OUTCOME_UNKNOWN, f"Daraja's answer was lost ({type(exc).__name__})"
            ) from None
        except DarajaError as exc:
            outcome = exc.metric_label
            raise
        finally:
            DARAJA_REQUEST_DURATION.labels(operation, outcome).observe(time.perf_counter() - started)
        return answer

    def _decode(self, operation: str, status: int, raw: bytes) -> dict:
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = None
        if isinstance(answer, dict) and "errorCode" in answer:
            code = str(answer["errorCode"])
            message = str(answer.get("errorMessage") or "")
            DARAJA_ERRORS.labels(operation, code).inc()
            raise DarajaError(
                classify_envelope(code),
                f"Daraja error {code}: {message}".rstrip(": "),
                error_code=code,
                http_status=status,
            )
        if status == 200 and isinstance(answer, dict):
            return answer
        failure = DarajaFailure.OUTCOME_UNKNOWN if status >= 500 else DarajaFailure.REJECTED
        raise self._error(operation, failure, f"unexpected Daraja answer: HTTP {status}")

    def _bad_answer(self, operation: str, message: str) -> DarajaError:
        return self._error(operation, DarajaFailure.OUTCOME_UNKNOWN, message)

    @staticmethod
    def _error(operation: str, failure: DarajaFailure, message: str) -> DarajaError:
        DARAJA_ERRORS.labels(operation, failure.value).inc()
        return DarajaError(failure, message)
