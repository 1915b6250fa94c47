"""Health, version, M-Pesa auth check and metrics: what probes, operators and the release call."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from app import metrics
from app.api.deps import ServicesDep
from app.mpesa.errors import DarajaError

router = APIRouter(tags=["system"])
log = logging.getLogger("golive.system")
DB_CHECK_SECONDS = 2.0


async def _schema_revision(svc: ServicesDep) -> str | None:
    async with svc.pool.connection(timeout=DB_CHECK_SECONDS) as conn:
        cursor = await conn.execute("SELECT version_num FROM alembic_version")
        row = await cursor.fetchone()
    return row[0] if row else None


@router.get("/api/health")
async def health(svc: ServicesDep) -> JSONResponse:
    """The process answers and the database answers (within 2 s)."""
    try:
        async with asyncio.timeout(DB_CHECK_SECONDS):
            async with svc.pool.connection(timeout=DB_CHECK_SECONDS) as conn:
                await conn.execute("SELECT 1")
        database = "ok"
    except Exception as exc:
        log.warning("health: database check failed", extra={"error": type(exc).__name__})
        database = f"error: {type(exc).__name__}"
    healthy = database == "ok"
    body = {"status": "ok" if healthy else "unhealthy", "database": database, "release": svc.settings.release_id}
    return JSONResponse(body, status_code=200 if healthy else 503)


@router.get("/api/version")
async def version(svc: ServicesDep) -> dict[str, str | None]:
    return {
        "release_id": svc.settings.release_id,
        "git_sha": svc.settings.git_sha,
        "schema_revision": await _schema_revision(svc),
        "schema_head": svc.schema_head,
    }


@router.post("/api/mpesa/test-auth")
async def test_auth(svc: ServicesDep) -> JSONResponse:
    """Proves Daraja accepts our credentials and the shared token, with a harmless query (no payment)."""
    try:
        await svc.daraja.check_auth()
    except DarajaError as exc:
        return JSONResponse({"status": "error", "detail": exc.message}, status_code=502)
    return JSONResponse({"status": "ok", "detail": "Daraja accepted our credentials and token"})


@router.get("/metrics", include_in_schema=False)
async def metrics_endpoint(request: Request) -> Response:
    """For scrapes straight to the instance (Prometheus, the gates). A request a proxy forwarded — the balancer adds
    X-Forwarded-For — is answered as an unknown path: the edge refuses /metrics by its literal path, and a spelling
    it does not match (/%6Detrics, which the router decodes) must not reach it either."""
    if "x-forwarded-for" in request.headers:
        return JSONResponse({"detail": "Not Found"}, status_code=404)
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
