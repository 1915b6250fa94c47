"""Security at the edge of the service: headers, request ids, CORS, body size and rate limits, redacted
logs, error answers that leak nothing, a production process that refuses to start half-configured, and
worker processes that start together safely."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from app.db import migrator
from app.domain.phone import mask_msisdn
from app.observability.logging_json import JsonFormatter
from app.settings import SettingsError, load_settings
from foundation.repository import REPO_ROOT
from tests.support import callbacks
from tests.support.metrics import scrape
from tests.support.processes import free_port
from tests.support.service import WALLET, RunningService, msisdn, phone
from tests.support.simulator import CONSUMER_SECRET

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}


def _assert_security_headers(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.status_code)
    assert response.headers.get("referrer-policy"), response.status_code
    csp = response.headers.get("content-security-policy", "")
    assert "default-src 'none'" in csp, response.status_code
    assert "frame-ancestors 'none'" in csp, response.status_code


def _payment_body(number: str | None = None) -> dict[str, str]:
    return {"phone": number or phone(), "package_id": "usdt-10", "wallet_address": WALLET}


# -- headers and request ids ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/api/packages", None, 200),
        ("GET", "/api/health", None, 200),
        ("GET", "/metrics", None, 200),
        ("GET", "/no/such/page", None, 404),
        ("GET", f"/api/payments/{uuid.UUID(int=1)}", None, 404),  # no such payment (a fixed id: a stable test id)
        ("GET", "/api/payments/not-a-uuid", None, 422),
        ("POST", "/api/payments", {"phone": "nope"}, 422),
        ("GET", "/api/admin/feature-flags", None, 401),
        ("DELETE", "/api/packages", None, 405),
    ],
)
def test_every_answer_carries_the_security_headers_and_a_request_id(
    service: RunningService, method, path, body, status
):
    response = service.http.request(method, path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})

    assert response.status_code == status
    _assert_security_headers(response)
    assert "strict-transport-security" not in response.headers  # served over plain http
    assert GENERATED_ID.match(response.headers["x-request-id"])


def test_hsts_only_when_the_public_url_is_https(service_factory, service: RunningService):
    tls = service_factory(public_base_url="https://pay.example.com")

    for response in (tls.http.get("/api/packages"), tls.http.get("/no/such/page")):
        hsts = response.headers.get("strict-transport-security", "")
        max_age = re.search(r"max-age=(\d+)", hsts)
        assert max_age and int(max_age.group(1)) >= 31_536_000, hsts
        _assert_security_headers(response)
    assert "strict-transport-security" not in service.http.get("/api/packages").headers


def test_a_sane_request_id_is_echoed_and_a_malformed_one_replaced(service: RunningService):
    sane = "checkout-1234.abc_DEF"
    assert service.http.get("/api/packages", headers={"X-Request-ID": sane}).headers["x-request-id"] == sane

    for malformed in ("short", "x" * 65, "has a space inside", "semi;colon;12345", "<script>alert(1)</script>"):
        answered = service.http.get("/api/packages", headers={"X-Request-ID": malformed}).headers["x-request-id"]
        assert answered != malformed
        assert GENERATED_ID.match(answered), answered

    fresh = {service.http.get("/api/packages").headers["x-request-id"] for _ in range(3)}
    assert len(fresh) == 3


# -- CORS -------------------------------------------------------------------------------------------


def test_cors_answers_only_the_allowed_origin(service_factory, service: RunningService):
    shop = service_factory(cors_origins="https://shop.example")
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,idempotency-key",
    }

    allowed = shop.http.options("/api/payments", headers={"Origin": "https://shop.example", **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "idempotency-key" in allowed.headers["access-control-allow-headers"].lower()
    get = shop.http.get("/api/packages", headers={"Origin": "https://shop.example"})
    assert get.status_code == 200
    assert get.headers["access-control-allow-origin"] == "https://shop.example"

    refused = shop.http.options("/api/payments", headers={"Origin": "https://evil.example", **preflight})
    assert refused.status_code >= 400
    assert "access-control-allow-origin" not in refused.headers
    other_get = shop.http.get("/api/packages", headers={"Origin": "https://evil.example"})
    assert other_get.status_code == 200
    assert "access-control-allow-origin" not in other_get.headers

    # Without an allowlist no origin is allowed.
    default = service.http.get("/api/packages", headers={"Origin": "https://shop.example"})
    assert "access-control-allow-origin" not in default.headers


# -- body size limit --------------------------------------------------------------------------------


def _oversized_payment(limit: int) -> bytes:
    body = json.dumps({**_payment_body(), "padding": "x" * (limit + 100)}).encode()
    assert len(body) > limit
    return body


def _chunks(body: bytes, size: int = 256) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_a_body_over_the_limit_is_413_when_announced(service_factory, sim, db):
    service = service_factory(max_body_bytes=1024)
    key = uuid.uuid4().hex

    response = service.http.post(
        "/api/payments",
        content=_oversized_payment(1024),
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )

    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"
    _assert_security_headers(response)
    assert db.execute("SELECT count(*) FROM payments WHERE idempotency_key = %s", (key,)).fetchone()[0] == 0
    assert sim.pushes() == []
    # A body under the limit still goes through.
    assert service.pay(phone()).status_code == 202


def test_a_streamed_body_over_the_limit_is_413(service_factory, sim, db):
    """Chunked transfer: no Content-Length to refuse up front; the limit applies while reading."""
    service = service_factory(max_body_bytes=1024)
    key = uuid.uuid4().hex

    response = service.http.post(
        "/api/payments",
        content=_chunks(_oversized_payment(1024)),
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "body_too_large"
    assert db.execute("SELECT count(*) FROM payments WHERE idempotency_key = %s", (key,)).fetchone()[0] == 0
    assert sim.pushes() == []


def test_a_streamed_callback_over_the_limit_is_413_and_not_stored(service_factory, db):
    service = service_factory(max_body_bytes=1024)
    payment_id = uuid.uuid4()
    body = callbacks.success("ws_CO_" + uuid.uuid4().hex) + b" " * 2048

    response = service.http.post(
        callbacks.path_for(service, payment_id.hex),
        content=_chunks(body),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 413, response.text
    assert db.execute("SELECT count(*) FROM stk_callbacks WHERE payment_id = %s", (payment_id,)).fetchone()[0] == 0


# -- rate limiting ----------------------------------------------------------------------------------


def test_rate_limit_answers_429_with_retry_after_and_spares_health(service_factory):
    service = service_factory(rate_limit_per_minute=6, rate_limit_burst=3)
    before = scrape(service.http).value("golive_rate_limited_total", group="api")

    assert [service.http.get("/api/packages").status_code for _ in range(3)] == [200, 200, 200]
    limited = service.http.get("/api/packages")
    assert limited.status_code == 429
    assert limited.json()["error"] == "rate_limited"
    retry_after = limited.headers["retry-after"]
    assert retry_after.isdigit()
    assert 1 <= int(retry_after) <= 10  # 6 a minute: one token every 10 s
    _assert_security_headers(limited)
    assert GENERATED_ID.match(limited.headers["x-request-id"])

    # A forged X-Forwarded-For from an untrusted peer is not a way around the limit.
    assert service.http.get("/api/packages", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 429
    assert service.http.post("/api/payments", json=_payment_body()).status_code == 429

    assert {service.http.get("/api/health").status_code for _ in range(10)} == {200}
    assert scrape(service.http).value("golive_rate_limited_total", group="api") - before == 3


# -- logs -------------------------------------------------------------------------------------------


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def test_logs_never_carry_a_full_phone_number_or_a_secret(service: RunningService, sim, captured_logs):
    paid_number, refused_number = phone("00"), phone("00")
    request_id = "logcheck-" + uuid.uuid4().hex[:12]

    started = service.http.post(
        "/api/payments",
        json=_payment_body(paid_number),
        headers={"Idempotency-Key": uuid.uuid4().hex, "X-Request-ID": request_id},
    )
    assert started.status_code == 202
    assert service.wait_for_state(started.json()["id"])["state"] == "paid"
    sim.configure(spike_arrest=True)
    assert service.pay(refused_number).status_code == 503
    # A validation error about the number: neither logged nor echoed in the answer.
    invalid = service.pay(paid_number[:-1] + "x")
    assert invalid.status_code == 422
    assert paid_number[:-1] not in invalid.text

    output = captured_logs.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    assert lines, "nothing was logged"
    assert any(line.get("request_id") == request_id for line in lines)
    for number in (paid_number, refused_number):
        assert msisdn(number) not in output
        assert number not in output
        assert number[1:] not in output  # the 9 digits after the trunk 0
    assert mask_msisdn(msisdn(refused_number)) in output  # the refusal is logged, masked
    callback_secret = service.settings.callback_secret.get_secret_value()  # type: ignore[union-attr]
    assert callback_secret not in output
    assert CONSUMER_SECRET not in output


def test_a_secret_or_number_that_reaches_a_log_line_is_redacted(service: RunningService, captured_logs):
    callback_secret = service.settings.callback_secret.get_secret_value()  # type: ignore[union-attr]
    number = phone("00")
    logging.getLogger("golive.test").warning(
        "careless %s %s %s", callback_secret, CONSUMER_SECRET, msisdn(number), extra={"phone": number}
    )

    output = captured_logs.getvalue()
    assert callback_secret not in output
    assert CONSUMER_SECRET not in output
    assert msisdn(number) not in output
    assert number not in output
    assert "[REDACTED]" in output
    assert mask_msisdn(msisdn(number)) in output


# -- error answers ----------------------------------------------------------------------------------


def test_an_unhandled_error_is_a_500_with_a_request_id_and_no_traceback(service_factory, database_factory):
    url = database_factory("broken")
    migrator.migrate(url)
    service = service_factory(db_url=url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE payments RENAME TO payments_gone")

    response = service.http.get(f"/api/payments/{uuid.uuid4()}")

    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == "internal"
    for leak in ("Traceback", "psycopg", "payments", "UndefinedTable", 'File "'):
        assert leak not in response.text
    # Everything wrong with the answer at once: it is produced outside the middleware that adds these.
    problems = []
    if not (isinstance(body.get("request_id"), str) and GENERATED_ID.match(body["request_id"])):
        problems.append(f"body request_id is {body.get('request_id')!r}")
    if response.headers.get("x-request-id") is None:
        problems.append("no x-request-id header")
    elif response.headers["x-request-id"] != body.get("request_id"):
        problems.append("x-request-id header differs from the body's request_id")
    problems += [
        f"no {name} header" for name in (*SECURITY_HEADERS, "content-security-policy") if name not in response.headers
    ]
    assert not problems, problems


# -- start-up refusal -------------------------------------------------------------------------------


def test_production_settings_name_every_missing_variable(monkeypatch):
    for name in [name for name in os.environ if name.startswith("GOLIVE_")]:
        monkeypatch.delenv(name)

    with pytest.raises(SettingsError) as missing_all:
        load_settings(env="production")
    for name in ("GOLIVE_DATABASE_URL", "GOLIVE_DARAJA_CONSUMER_KEY", "GOLIVE_DARAJA_CONSUMER_SECRET"):
        assert name in str(missing_all.value)
    assert "GOLIVE_CALLBACK_SECRET" in str(missing_all.value)

    with pytest.raises(SettingsError) as missing_one:
        load_settings(
            env="production",
            database_url="postgresql://golive@db.internal/golive",
            daraja_consumer_key="key-from-the-portal",
            daraja_consumer_secret="secret-from-the-portal",
        )
    assert "GOLIVE_CALLBACK_SECRET" in str(missing_one.value)
    assert "GOLIVE_DATABASE_URL" not in str(missing_one.value)
    assert "secret-from-the-portal" not in str(missing_one.value)


# Several worker processes of one host start at once on a fresh state folder (uvicorn --workers N).
_START_TOGETHER = """
import multiprocessing, sys, tempfile
from app.settings import load_settings

def start(state_dir, results):
    try:
        results.put(load_settings(env="test", state_dir=state_dir).callback_secret.get_secret_value())
    except Exception as exc:
        results.put(f"error: {type(exc).__name__}: {exc}")

if __name__ == "__main__":
    context = multiprocessing.get_context("fork")
    for _ in range(int(sys.argv[1])):
        state_dir, results = tempfile.mkdtemp(dir=sys.argv[2]), context.Queue()
        workers = [context.Process(target=start, args=(state_dir, results)) for _ in range(4)]
        for worker in workers:
            worker.start()
        answers = [results.get(timeout=30) for _ in workers]
        for worker in workers:
            worker.join()
        errors = [answer for answer in answers if answer.startswith("error")]
        if errors or len(set(answers)) != 1:
            print(errors or f"{len(set(answers))} different secrets")
            sys.exit(1)
"""


def test_processes_starting_together_share_one_set_of_generated_secrets(tmp_path):
    """Run in a fresh interpreter (forking this one, with its server threads, is not safe)."""
    result = subprocess.run(
        [sys.executable, "-c", _START_TOGETHER, "40", str(tmp_path)],
        cwd=REPO_ROOT,
        env={name: value for name, value in os.environ.items() if not name.startswith("GOLIVE_")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr[-2000:]


def test_a_production_process_without_settings_refuses_to_start():
    env = {name: value for name, value in os.environ.items() if not name.startswith("GOLIVE_")}
    env.update({"GOLIVE_ENV": "production"})
    port = free_port()

    command = [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app"]
    result = subprocess.run(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "GOLIVE_DATABASE_URL" in result.stderr, result.stderr[-2000:]
