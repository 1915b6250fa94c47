"""GET|POST /api/admin/feature-flags (x-api-key)."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from app.api.deps import AdminDep, ServicesDep
from app.api.schemas import FlagOut, FlagUpdate
from app.flags.bucketing import Flag
from app.flags.store import read_flags, write_flag

router = APIRouter(tags=["admin"])
log = logging.getLogger("golive.admin")


@router.get("/api/admin/feature-flags", response_model=list[FlagOut])
async def list_flags(svc: ServicesDep, _admin: AdminDep) -> list[FlagOut]:
    async with svc.pool.connection() as conn:
        flags = await read_flags(conn)
    return [FlagOut(**vars(flag)) for flag in flags.values()]


@router.post("/api/admin/feature-flags", response_model=FlagOut)
async def set_flag(update: FlagUpdate, svc: ServicesDep, admin: AdminDep) -> FlagOut:
    """Set a flag, e.g. {"feature": "mpesa_payments", "enabled": true, "percentage": 10}. Every worker
    sees it within GOLIVE_FEATURE_FLAG_CACHE_SECONDS."""
    async with svc.pool.connection() as conn, conn.transaction():
        current = (await read_flags(conn)).get(update.feature)
        percentage = update.percentage
        if percentage is None:
            percentage = current.percentage if current else (100 if update.enabled else 0)
        flag = await write_flag(conn, Flag(update.feature, update.enabled, percentage), updated_by=admin)
    svc.flags.invalidate()
    log.info(
        "feature flag set",
        extra={"feature": flag.feature, "enabled": flag.enabled, "percentage": flag.percentage, "by": admin},
    )
    return FlagOut(**vars(flag))
