"""POST / : Ethereum JSON-RPC 2.0 over HTTP (single calls and batches), with the fault switches applied."""

import asyncio
import json
import logging
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from simulators.chain.rpc_errors import INTERNAL_ERROR, INVALID_REQUEST, PARSE_ERROR, RpcError
from simulators.chain.state import SimulatorState

log = logging.getLogger("simulators.chain")

INJECTED_ERROR = {"code": INTERNAL_ERROR, "message": "simulated node failure"}


def _state(request: Request) -> SimulatorState:
    return request.app.state.simulator


def _error(call_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": call_id, "error": {"code": code, "message": message}}


async def rpc(request: Request) -> Response:
    state = _state(request)
    started = time.monotonic()
    try:
        payload = json.loads(await request.body())
    except ValueError:
        state.record(None, "parse_error", PARSE_ERROR, started)
        return JSONResponse(_error(None, PARSE_ERROR, "parse error"))
    is_batch = isinstance(payload, list)
    calls = payload if is_batch else [payload]
    if is_batch and not calls:
        state.record(None, "invalid_request", INVALID_REQUEST, started)
        return JSONResponse(_error(None, INVALID_REQUEST, "empty batch"))
    methods = [c.get("method") for c in calls if isinstance(c, dict) and isinstance(c.get("method"), str)]

    delay = state.faults.delay_for(methods)
    if delay:
        await asyncio.sleep(delay)

    if state.faults.fail_mode != "error" and any(_spend_failure(state, m) for m in methods):
        for method in methods:
            state.record(method, state.faults.fail_mode, None, started)
        if state.faults.fail_mode == "http429":
            return JSONResponse(_error(None, -32005, "rate limit exceeded"), status_code=429)
        return PlainTextResponse("503 Service Unavailable: simulated node outage", status_code=503)

    answers = [answer for call in calls if (answer := _answer(state, call, started)) is not None]
    if is_batch:
        return JSONResponse(answers) if answers else Response(status_code=200)
    return JSONResponse(answers[0]) if answers else Response(status_code=200)


def _spend_failure(state: SimulatorState, method: str) -> bool:
    if state.faults.selects(method, state.rng):
        state.faults = state.faults.spent_one()
        return True
    return False


def _answer(state: SimulatorState, call: Any, started: float) -> dict[str, Any] | None:
    """One call's response object, or None for a notification (a call without an id)."""
    if not isinstance(call, dict) or call.get("jsonrpc") != "2.0" or not isinstance(call.get("method"), str):
        state.record(None, "invalid_request", INVALID_REQUEST, started)
        return _error(call.get("id") if isinstance(call, dict) else None, INVALID_REQUEST, "invalid request")
    call_id = call.get("id")
    method = call["method"]
    params = call.get("params", [])
    if params is None:
        params = []
    if state.faults.fail_mode == "error" and _spend_failure(state, method):
        state.record(method, "injected_error", INJECTED_ERROR["code"], started)
        return {"jsonrpc": "2.0", "id": call_id, "error": dict(INJECTED_ERROR)}
    try:
        if not isinstance(params, list):
            raise RpcError(-32602, "non-array args")
        result = state.methods.dispatch(method, params)
    except RpcError as error:
        state.record(method, "error", error.code, started)
        response: dict[str, Any] = {"jsonrpc": "2.0", "id": call_id, "error": error.to_json()}
    except Exception as error:
        log.exception("%s failed", method)
        state.record(method, "error", INTERNAL_ERROR, started)
        response = _error(call_id, INTERNAL_ERROR, f"internal error: {error}")
    else:
        state.record(method, "ok", None, started)
        response = {"jsonrpc": "2.0", "id": call_id, "result": result}
    return response if "id" in call else None


async def wrong_method(_request: Request) -> Response:
    return PlainTextResponse("JSON-RPC: POST only", status_code=405)
