"""Error answers: say what is wrong, never echo what the client sent (it may be a phone number)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app.metrics import PAYMENTS_REFUSED
from app.payments.errors import PaymentRefused


def _field(location: tuple) -> str:
    parts = [str(part) for part in location if part not in ("body",)]
    return ".".join(parts) or "body"


async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    problems = [
        {
            "field": _field(tuple(error.get("loc", ()))),
            "message": str(error.get("msg", "")).removeprefix("Value error, "),
        }
        for error in exc.errors()
    ]
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return JSONResponse({"error": "invalid_request", "detail": summary, "problems": problems}, status_code=422)


async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
    return JSONResponse(
        {"error": "http_error", "detail": exc.detail},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def payment_refused(_: Request, exc: PaymentRefused) -> JSONResponse:
    PAYMENTS_REFUSED.labels(exc.code).inc()
    body = {"error": exc.code, "detail": exc.message}
    if exc.payment_id:
        body["payment_id"] = exc.payment_id
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(PaymentRefused, payment_refused)  # type: ignore[arg-type]
