"""The harness of the Daraja simulator tests: the simulator as a real subprocess, a client that speaks
Daraja to it, and a callback receiver that records what it gets and from which address."""

import base64
import json
import threading
import time
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from tests.support.module_server import RunningServer, module_command, module_env, run_module_server

CONSUMER_KEY = "sim-test-consumer-key"
CONSUMER_SECRET = "sim-test-consumer-secret"
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
SHORTCODE = "174379"
CALLBACK_DELAY = 0.1
NAIROBI = timezone(timedelta(hours=3))


class _Missing:
    """A push/query override that removes the field (its repr is a stable test id)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


def simulator_command(*args: str) -> list[str]:
    return module_command("simulators.daraja", *args)


def simulator_env(**overrides: str | None) -> dict[str, str]:
    credentials = {"GOLIVE_DARAJA_CONSUMER_KEY": CONSUMER_KEY, "GOLIVE_DARAJA_CONSUMER_SECRET": CONSUMER_SECRET}
    return module_env("GOLIVE_DARAJA_", credentials, **overrides)


RunningSimulator = RunningServer


def run_simulator(*args: str, env: dict[str, str] | None = None) -> AbstractContextManager[RunningServer]:
    """Starts `python -m simulators.daraja` on a free loopback port and stops it (by PID) afterwards."""
    return run_module_server(
        "simulators.daraja",
        *args,
        env=env if env is not None else simulator_env(),
        health_path="/__sim__/health",
        timeout=15.0,
    )


@dataclass
class ReceivedCallback:
    path: str
    headers: dict[str, str]
    body: Any
    peer: str
    received_at: float  # time.monotonic()


class CallbackReceiver:
    """An HTTP server in a thread that records every POST with the address it came from."""

    def __init__(self) -> None:
        self.status = 200
        self.answer_after = 0.0
        self._received: list[ReceivedCallback] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver._received.append(
                        ReceivedCallback(
                            path=self.path,
                            headers=dict(self.headers.items()),
                            body=json.loads(raw),
                            peer=self.client_address[0],
                            received_at=time.monotonic(),
                        )
                    )
                time.sleep(receiver.answer_after)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def new_url(self) -> str:
        """A fresh callback URL, so each test reads only its own callbacks."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/cb/{uuid.uuid4().hex}"

    def received(self, url: str) -> list[ReceivedCallback]:
        path = httpx.URL(url).path
        with self._lock:
            return [callback for callback in self._received if callback.path == path]

    def wait_for(self, url: str, count: int = 1, timeout: float = 5.0) -> list[ReceivedCallback]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            received = self.received(url)
            if len(received) >= count:
                return received
            time.sleep(0.01)
        raise AssertionError(f"expected {count} callbacks at {url}, got {len(self.received(url))}")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def daraja_timestamp(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def daraja_password(timestamp: str, shortcode: str = SHORTCODE, passkey: str = SANDBOX_PASSKEY) -> str:
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode()


def basic_auth(key: str = CONSUMER_KEY, secret: str = CONSUMER_SECRET) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


def _apply(body: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    for name, value in overrides.items():
        if value is MISSING:
            body.pop(name, None)
        else:
            body[name] = value
    return body


class DarajaClient:
    """Speaks Daraja (and the /__sim__ control API) to one simulator."""

    def __init__(
        self,
        base_url: str,
        shortcode: str = SHORTCODE,
        passkey: str = SANDBOX_PASSKEY,
        http: httpx.Client | None = None,
    ) -> None:
        # Building an httpx.Client costs tens of milliseconds (its TLS context), so tests share one.
        self._owns_http = http is None
        self.http = http or httpx.Client(base_url=base_url, timeout=10)
        self.shortcode = shortcode
        self.passkey = passkey

    def generate_token(self, authorization: str | None = None, grant_type: str | None = "client_credentials"):
        params = {"grant_type": grant_type} if grant_type is not None else {}
        headers = {"Authorization": authorization or basic_auth()}
        return self.http.get("/oauth/v1/generate", params=params, headers=headers)

    def token(self) -> str:
        response = self.generate_token()
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def push_body(
        self, phone: str = "254712345678", callback_url: str = "http://127.0.0.1:9/cb", **overrides: Any
    ) -> dict[str, Any]:
        timestamp = daraja_timestamp()
        body = {
            "BusinessShortCode": self.shortcode,
            "Password": daraja_password(timestamp, self.shortcode, self.passkey),
            "Timestamp": timestamp,
            "TransactionType": "CustomerPayBillOnline",
            "Amount": 100,
            "PartyA": phone,
            "PartyB": self.shortcode,
            "PhoneNumber": phone,
            "CallBackURL": callback_url,
            "AccountReference": "ORDER42",
            "TransactionDesc": "Buy USDT",
        }
        return _apply(body, overrides)

    def push(self, body: Any = None, token: str | None = None, **push_body_args: Any) -> httpx.Response:
        body = self.push_body(**push_body_args) if body is None else body
        return self._post("/mpesa/stkpush/v1/processrequest", body, token)

    def accepted_push(self, **push_body_args: Any) -> dict[str, Any]:
        response = self.push(**push_body_args)
        assert response.status_code == 200, response.text
        return response.json()

    def query_body(self, checkout_request_id: str, **overrides: Any) -> dict[str, Any]:
        timestamp = daraja_timestamp()
        body = {
            "BusinessShortCode": self.shortcode,
            "Password": daraja_password(timestamp, self.shortcode, self.passkey),
            "Timestamp": timestamp,
            "CheckoutRequestID": checkout_request_id,
        }
        return _apply(body, overrides)

    def query(self, checkout_request_id: str, token: str | None = None, **overrides: Any) -> httpx.Response:
        body = self.query_body(checkout_request_id, **overrides)
        return self._post("/mpesa/stkpushquery/v1/query", body, token)

    def _post(self, path: str, body: Any, token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token()}"}
        if isinstance(body, str | bytes):
            return self.http.post(path, content=body, headers=headers)
        return self.http.post(path, json=body, headers=headers)

    def configure(self, **changes: Any) -> dict[str, Any]:
        response = self.http.post("/__sim__/config", json=changes)
        assert response.status_code == 200, response.text
        return response.json()

    def control(self, name: str, **params: str) -> Any:
        response = self.http.get(f"/__sim__/{name}", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def reset(self) -> None:
        assert self.http.post("/__sim__/reset").status_code == 200

    def close(self) -> None:
        if self._owns_http:
            self.http.close()


def assert_daraja_error(
    response: httpx.Response, http_status: int, error_code: str, message: str | None = None
) -> None:
    assert response.status_code == http_status, response.text
    body = response.json()
    assert set(body) == {"requestId", "errorCode", "errorMessage"}
    assert body["requestId"]
    assert body["errorCode"] == error_code
    if message is not None:
        assert body["errorMessage"] == message
