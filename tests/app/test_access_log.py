"""The access log: one line per request at INFO, but a successful Prometheus scrape at DEBUG (a web instance is
scraped every few seconds; those lines would drown the rest)."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from app.http.middleware import RequestContext


def _app(metrics_status: int) -> RequestContext:
    async def metrics(_request):
        return PlainTextResponse("# metrics\n", status_code=metrics_status)

    async def packages(_request):
        return PlainTextResponse("[]")

    routes = [Route("/metrics", metrics), Route("/api/packages", packages)]
    return RequestContext(Starlette(routes=routes), trusted_proxies=())


def _levels(caplog, app: RequestContext, path: str) -> list[tuple[int, str]]:
    async def get() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await client.get(path)

    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="golive.access"):
        asyncio.run(get())
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "golive.access"]


def test_a_successful_scrape_is_logged_at_debug(caplog):
    assert _levels(caplog, _app(200), "/metrics") == [(logging.DEBUG, "GET /metrics 200")]


@pytest.mark.parametrize("status", [500, 503])
def test_a_failing_scrape_is_logged_at_info(caplog, status):
    assert _levels(caplog, _app(status), "/metrics") == [(logging.INFO, f"GET /metrics {status}")]


def test_every_other_request_is_logged_at_info(caplog):
    assert _levels(caplog, _app(200), "/api/packages") == [(logging.INFO, "GET /api/packages 200")]
