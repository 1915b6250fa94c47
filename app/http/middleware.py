"""The service's ASGI middleware, written against raw ASGI (Starlette's BaseHTTPMiddleware costs a task
per request). Outermost first: security headers, request context (id, access log, latency metric,
unhandled errors), CORS, body size limit, rate limit."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.client_ip import Network, client_ip
from app.http.rate_limit import RateLimiter
from app.metrics import HTTP_REQUEST_DURATION, RATE_LIMITED, UNHANDLED_ERRORS
from app.observability.request_context import accept_request_id, request_id_var

access_log = logging.getLogger("golive.access")
error_log = logging.getLogger("golive.errors")
UNMATCHED_ROUTE = "unmatched"
# Answered to Prometheus every few seconds per instance: a success is logged at DEBUG, anything else at INFO.
QUIET_ROUTES = frozenset({"/metrics"})
# Told of every unhandled error (the error tracker): the error, then tags (route, method, request_id).
ErrorReporter = Callable[..., None]


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
    def __init__(self, app: ASGIApp, trusted_proxies: tuple[Network, ...], report: ErrorReporter | None = None):
        self.app = app
        self.trusted = trusted_proxies
        self.report = report

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = accept_request_id(_header(scope, b"x-request-id"))
        token = request_id_var.set(request_id)
        peer = scope["client"][0] if scope.get("client") else None
        scope.setdefault("state", {})["client_ip"] = client_ip(peer, _header(scope, b"x-forwarded-for"), self.trusted)
        started = time.perf_counter()
        status, status_sent = 500, False

        async def send_with_id(message: Message) -> None:
            nonlocal status, status_sent
            if message["type"] == "http.response.start":
                status, status_sent = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            access_log.debug("client went away before the answer", extra={"path": scope["path"]})
            status = 499
        except Exception as exc:
            # Rendered here, not by Starlette's outermost handler, so the answer and the log line
            # still carry the request id (and pass through the security headers outside us).
            error_log.error("unhandled error", exc_info=True)
            route = _route(scope)
            UNHANDLED_ERRORS.labels(route).inc()
            if self.report is not None:
                self.report(exc, route=route, method=scope["method"], request_id=request_id)
            if status_sent:
                raise
            await _json(
                send_with_id,
                500,
                {"error": "internal", "detail": "internal error; quote the request id", "request_id": request_id},
            )
        finally:
            elapsed = time.perf_counter() - started
            route = _route(scope)
            HTTP_REQUEST_DURATION.labels(route, scope["method"], str(status)).observe(elapsed)
            quiet = route in QUIET_ROUTES and 200 <= status < 300
            access_log.log(
                logging.DEBUG if quiet else logging.INFO,
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


def _route(scope: Scope) -> str:
    """The matched route's template (never the raw path: one series per route, not per payment id)."""
    return getattr(scope.get("route"), "path", UNMATCHED_ROUTE)


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
    """413 for bodies over the limit. A declared Content-Length is checked up front (the server holds
    the client to it); a body without one (chunked) is read here first, up to the limit, and replayed."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes
        self.too_large = {"error": "body_too_large", "detail": f"request body exceeds {max_bytes} bytes"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _header(scope, b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.max_bytes:
                return await _json(send, 413, self.too_large)
            return await self.app(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await _json(send, 413, self.too_large)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)


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
