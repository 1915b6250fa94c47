"""The payments service: `uvicorn --factory app.main:create_app`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from app import errors
from app.api import admin, blockchain, callbacks, payments, recovery, system
from app.http.client_ip import parse_networks
from app.http.middleware import BodyLimit, RateLimit, RequestContext, SecurityHeaders
from app.http.rate_limit import RateLimiter
from app.observability.error_tracking import ErrorTracker
from app.observability.logging_json import configure_logging, register_secret
from app.payments import pending_after_start
from app.services import build_services
from app.settings import Settings, get_settings

log = logging.getLogger("golive")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    for secret in settings.secret_values():
        register_secret(secret)
    tracker = ErrorTracker.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = await build_services(settings)
        pending = pending_after_start.start(app.state.services.pool)
        log.info(
            "service started",
            extra={
                "env": settings.env,
                "release": settings.release_id,
                "error_tracking": tracker.enabled,
            },
        )
        try:
            yield
        finally:
            await pending_after_start.stop(pending)
            await app.state.services.close()
            tracker.close()

    production = settings.env in ("staging", "production")
    app = FastAPI(
        title="golive payments",
        version=settings.release_id,
        lifespan=lifespan,
        docs_url=None if production else "/docs",
        redoc_url=None,
    )
    for router in (
        payments.router,
        callbacks.router,
        admin.router,
        recovery.router,
        system.router,
        blockchain.router,
    ):
        app.include_router(router)
    errors.install(app)
    # Added innermost first: security headers wrap everything, CORS answers preflights early.
    limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
    app.add_middleware(RateLimit, limiter=limiter if settings.rate_limit_enabled else None)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", "Idempotency-Key", "X-Request-ID", "x-api-key"],
        max_age=600,
    )
    app.add_middleware(
        RequestContext, trusted_proxies=parse_networks(tuple(settings.trusted_proxies)), report=tracker.capture
    )
    app.add_middleware(SecurityHeaders, hsts=settings.serves_tls)
    return app
