"""GET /api/blockchain/health."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import ServicesDep
from app.chain.health import chain_health

router = APIRouter(tags=["system"])


@router.get("/api/blockchain/health")
async def blockchain_health(svc: ServicesDep) -> JSONResponse:
    healthy, answer = await chain_health(svc.rpc, svc.settings, svc.treasury_address)
    return JSONResponse(answer, status_code=200 if healthy else 503)
