"""POST /api/callbacks/stk/{payment_id}/{token}: Daraja's STK result.

The path carries our payment id and its HMAC token (Daraja signs nothing). The raw body is stored
before anything is parsed; Daraja gets its acknowledgement, and the payment is updated right after.
"""

from __future__ import annotations

import logging
import re
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse, Response

from app.api.deps import ServicesDep
from app.http.client_ip import allowed
from app.metrics import CALLBACKS, RATE_LIMITED
from app.mpesa.callback_parse import MalformedCallback, StkCallback, parse_stk_callback
from app.payments import callbacks
from app.payments.callback_token import token_matches
from app.payments.repository import CallbackView
from app.services import Services

router = APIRouter(tags=["callbacks"])
log = logging.getLogger("golive.callbacks")
PAYMENT_ID = re.compile(r"^[0-9a-f]{32}$")
ACCEPTED = {"ResultCode": 0, "ResultDesc": "Accepted"}
# The acknowledgement rendered once (the bytes JSONResponse(ACCEPTED) would render on every callback).
ACCEPTED_BODY = JSONResponse(ACCEPTED).body
REFUSED_GROUP = "callback_refused"


def _refuse(svc: Services, client: str | None, status: int, label: str, detail: str) -> JSONResponse:
    """The refusal, or a 429 once this client has spent its allowance of refusals (no log line then: a flood
    of forged callbacks must not become a flood of warnings)."""
    CALLBACKS.labels(label).inc()
    limiter = svc.refused_callbacks
    wait = limiter.check(client or "-", REFUSED_GROUP) if limiter is not None else None
    if wait is not None:
        RATE_LIMITED.labels(REFUSED_GROUP).inc()
        return JSONResponse(
            {"ResultCode": 1, "ResultDesc": f"too many refused callbacks; retry in {wait} s"},
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
    log.warning("callback refused: %s", detail, extra={"client": client})
    return JSONResponse({"ResultCode": 1, "ResultDesc": detail}, status_code=status)


@router.post("/api/callbacks/stk/{payment_id}/{token}")
async def stk_callback(
    payment_id: str, token: str, request: Request, svc: ServicesDep, background: BackgroundTasks
) -> JSONResponse:
    secret = svc.settings.callback_secret
    assert secret is not None
    source = request.state.client_ip
    # A malformed id or token (non-ASCII, wrong length) gets the answer a wrong token gets: it reveals nothing.
    if not PAYMENT_ID.fullmatch(payment_id) or not token_matches(secret.get_secret_value(), UUID(payment_id), token):
        return _refuse(svc, source, 404, "forged_token", "unknown callback address")
    if svc.settings.callback_allowlist_enabled and not allowed(source, svc.callback_sources):
        return _refuse(svc, source, 403, "forbidden_source", "source address not allowed")
    pid = UUID(payment_id)
    body = await request.body()
    try:
        parsed = parse_stk_callback(body)
    except MalformedCallback as exc:
        # Parsing touches nothing: the raw body is stored either way, as malformed here.
        await callbacks.store_malformed(
            svc.pool, pid, source_ip=source, headers=request.headers, body=body, problem=str(exc)
        )
        log.warning("malformed callback stored", extra={"payment_id": str(pid), "problem": str(exc)})
        return JSONResponse({"ResultCode": 1, "ResultDesc": f"malformed callback: {exc}"}, status_code=400)
    seen = await callbacks.receive(svc.pool, pid, source_ip=source, headers=request.headers, body=body, callback=parsed)
    background.add_task(_apply, svc, seen, pid, parsed)
    return Response(ACCEPTED_BODY, media_type="application/json")


async def _apply(svc: Services, seen: CallbackView, payment_id: UUID, parsed: StkCallback) -> None:
    try:
        await callbacks.apply(svc.pool, seen.callback_id, payment_id, parsed, seen)
    except Exception:
        # Stored as 'received': applied again at the next start (callbacks.apply_pending).
        log.exception(
            "applying callback failed; it stays stored for a retry",
            extra={"payment_id": str(payment_id), "callback_id": seen.callback_id},
        )
