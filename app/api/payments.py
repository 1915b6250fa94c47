"""POST /api/payments, GET /api/payments/{id}, GET /api/packages."""

from __future__ import annotations

import re
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, HTTPException, Response

from app.api.deps import ServicesDep
from app.api.schemas import ErrorOut, PackageOut, PaymentCreate, PaymentDetail, PaymentOut
from app.payments import repository
from app.payments.service import PaymentRequest

router = APIRouter(tags=["payments"])
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,100}$")
REFUSALS = {status: {"model": ErrorOut} for status in (409, 422, 429, 503)}


@router.post("/api/payments", status_code=202, response_model=PaymentOut, responses=REFUSALS)
async def start_payment(
    body: PaymentCreate,
    svc: ServicesDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(description="8-100 of A-Z a-z 0-9 _ . : -")] = None,
) -> PaymentOut:
    """Start an M-Pesa STK push for a package. Retrying with the same Idempotency-Key returns the same
    payment (200) and never pushes twice."""
    if idempotency_key is None:
        raise HTTPException(400, "the Idempotency-Key header is required (a unique value per payment attempt)")
    if not IDEMPOTENCY_KEY.match(idempotency_key):
        raise HTTPException(400, "Idempotency-Key must be 8-100 characters of A-Z a-z 0-9 _ . : -")
    request = PaymentRequest(body.phone, body.package_id, body.wallet_address)
    payment, created = await svc.payments.start(request, idempotency_key)
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return PaymentOut.of(payment)


@router.get("/api/payments/{payment_id}", response_model=PaymentDetail, responses={404: {"model": ErrorOut}})
async def get_payment(payment_id: UUID, svc: ServicesDep) -> PaymentDetail:
    async with svc.pool.connection() as conn:
        payment = await repository.find_by_id(conn, payment_id)
        if payment is None:
            raise HTTPException(404, "no such payment")
        history = await repository.events(conn, payment_id)
    return PaymentDetail(**PaymentOut.of(payment).model_dump(), history=history)


@router.get("/api/packages", response_model=list[PackageOut])
async def list_packages(svc: ServicesDep) -> list[PackageOut]:
    return [PackageOut(**vars(package)) for package in await svc.packages.all()]
