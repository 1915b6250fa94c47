"""The service's ASGI middleware, written against raw ASGI (Starlette's BaseHTTPMiddleware costs a task
per request). Outermost first: request context (id, access log, latency metric), security headers,
body size limit, rate limit."""

from __future__ import annotations

import json
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.client_ip import Network, client_ip
from app.http.rate_limit import RateLimiter
from app.metrics import HTTP_REQUEST_DURATION, RATE_LIMITED
from app.observability.request_context import accept_request_id, request_id_var

access_log = logging.getLogger("golive.access")
UNMATCHED_ROUTE = "unmatched"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


async def _json(send: Send, status: int, body: dict, headers: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class RequestContext:
    def __init__(self, app: ASGIApp, trusted_proxies: tuple[Network, ...]):
        self.app = app
        self.trusted = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = accept_request_id(_header(scope, b"x-request-id"))
        token = request_id_var.set(request_id)
        peer = scope["client"][0] if scope.get("client") else None
        scope.setdefault("state", {})["client_ip"] = client_ip(peer, _header(scope, b"x-forwarded-for"), self.trusted)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", UNMATCHED_ROUTE)
            HTTP_REQUEST_DURATION.labels(route, scope["method"], str(status)).observe(elapsed)
            access_log.info(
                "%s %s %s",
                scope["method"],
                route,
                status,
                extra={
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "client": scope["state"]["client_ip"],
                },
            )
            request_id_var.reset(token)


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool):
        self.app = app
        self.headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
            (b"cache-control", b"no-store"),
        ]
        if hsts:
            self.headers.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in self.headers if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """413 for bodies over the limit, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _header(scope, b"content-length")
        too_large = {"error": "body_too_large", "detail": f"request body exceeds {self.max_bytes} bytes"}
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await _json(send, 413, too_large)
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await _json(send, 413, too_large)


class _BodyTooLarge(Exception):
    pass


class RateLimit:
    # Paths never limited: probes, scrapes and Daraja's callbacks (guarded by token and allowlist).
    EXEMPT = ("/api/health", "/metrics", "/api/callbacks/")

    def __init__(self, app: ASGIApp, limiter: RateLimiter | None):
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limiter is None or scope["path"].startswith(self.EXEMPT):
            return await self.app(scope, receive, send)
        group = "admin" if scope["path"].startswith("/api/admin") else "api"
        wait = self.limiter.check(scope["state"].get("client_ip") or "-", group)
        if wait is None:
            return await self.app(scope, receive, send)
        RATE_LIMITED.labels(group).inc()
        await _json(
            send,
            429,
            {"error": "rate_limited", "detail": f"too many requests; retry in {wait} s"},
            [(b"retry-after", str(wait).encode())],
        )
