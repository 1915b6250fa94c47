"""FastAPI dependencies: the per-process services and the admin key check."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from app.admin.keys import authenticate
from app.services import Services


async def services(request: Request) -> Services:  # async: a sync dependency costs a thread hop per request
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(services)]


async def admin_name(svc: ServicesDep, x_api_key: Annotated[str | None, Header()] = None) -> str:
    async with svc.pool.connection() as conn:
        name = await authenticate(conn, x_api_key)
    if name is None:
        raise HTTPException(401, "missing or invalid x-api-key", headers={"WWW-Authenticate": "x-api-key"})
    return name


AdminDep = Annotated[str, Depends(admin_name)]
