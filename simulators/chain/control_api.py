"""/__chain__: the control API tests and operators use to mine, stall mining, break or slow the RPC, fund
accounts, snapshot and revert, and read what happened. Every answer is JSON; bad input gets 400
{"error": "...", "key": "..."}."""

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from simulators.chain.faults import FaultError
from simulators.chain.state import SimulatorState

MAX_MINE = 10_000


class BadInput(ValueError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


def _state(request: Request) -> SimulatorState:
    return request.app.state.simulator


def _bad(error: BadInput | FaultError) -> JSONResponse:
    return JSONResponse({"error": str(error), "key": error.key}, status_code=400)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadInput("body", "not valid JSON") from None
    if not isinstance(body, dict):
        raise BadInput("body", "a JSON object expected")
    return body


async def health(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def info(request: Request) -> JSONResponse:
    return JSONResponse(_state(request).info())


async def mine(request: Request) -> JSONResponse:
    state = _state(request)
    try:
        body = await _body(request)
        blocks = body.get("blocks", 1)
        if isinstance(blocks, bool) or not isinstance(blocks, int) or not 1 <= blocks <= MAX_MINE:
            raise BadInput("blocks", f"a whole number from 1 to {MAX_MINE}")
    except BadInput as error:
        return _bad(error)
    hashes = state.node.mine(blocks)
    return JSONResponse({"blocks": hashes, "head": state.node.head().block_number, "pending": len(state.node.pool)})


async def get_mining(request: Request) -> JSONResponse:
    return JSONResponse(_state(request).mining_json())


async def set_mining(request: Request) -> JSONResponse:
    state = _state(request)
    try:
        body = await _body(request)
        unknown = set(body) - {"auto", "block_time"}
        if unknown:
            raise BadInput(sorted(unknown)[0], "unknown key (known: auto, block_time)")
        auto = body.get("auto", state.auto_mine)
        if not isinstance(auto, bool):
            raise BadInput("auto", "true or false")
        block_time = body.get("block_time", state.block_time)
        if isinstance(block_time, bool) or not isinstance(block_time, int | float) or not 0 <= block_time <= 3600:
            raise BadInput("block_time", "seconds from 0 to 3600 (0: a block per transaction)")
    except BadInput as error:
        return _bad(error)
    state.auto_mine = auto
    state.block_time = block_time
    state.after_transaction()  # turning auto-mining back on mines what is waiting, as a fresh geth --dev would
    return JSONResponse(state.mining_json())


async def get_faults(request: Request) -> JSONResponse:
    return JSONResponse(_state(request).faults.to_json())


async def set_faults(request: Request) -> JSONResponse:
    state = _state(request)
    try:
        state.faults = state.faults.updated(await _body(request))
    except (BadInput, FaultError) as error:
        return _bad(error)
    return JSONResponse(state.faults.to_json())


async def clear_faults(request: Request) -> JSONResponse:
    state = _state(request)
    state.faults = type(state.faults)()
    return JSONResponse(state.faults.to_json())


async def fund(request: Request) -> JSONResponse:
    state = _state(request)
    try:
        body = await _body(request)
        unknown = set(body) - {"address", "wei", "ether", "usdt", "usdt_units"}
        if unknown:
            raise BadInput(sorted(unknown)[0], "unknown key (known: address, wei, ether, usdt, usdt_units)")
        address = _address(body.get("address"))
        wei = _amount(body, "wei", "ether", 18)
        units = _amount(body, "usdt_units", "usdt", 6)
        if not wei and not units:
            raise BadInput("body", "give an amount: wei or ether, and/or usdt_units or usdt")
    except BadInput as error:
        return _bad(error)
    block_hash = state.node.fund(address, wei, units)
    return JSONResponse({"block": block_hash, "head": state.node.head().block_number, "wei": wei, "usdt_units": units})


async def snapshot(request: Request) -> JSONResponse:
    return JSONResponse({"id": _state(request).node.snapshot()})


async def revert(request: Request) -> JSONResponse:
    state = _state(request)
    try:
        body = await _body(request)
        snapshot_id = body.get("id")
        if not isinstance(snapshot_id, str):
            raise BadInput("id", "the id POST /__chain__/snapshot returned")
        try:
            state.node.revert(snapshot_id)
        except KeyError:
            raise BadInput("id", "no such snapshot (a block hash of this chain)") from None
    except BadInput as error:
        return _bad(error)
    return JSONResponse({"head": state.node.head().block_number})


async def txpool(request: Request) -> JSONResponse:
    pool = _state(request).node.pool
    return JSONResponse(
        {"pending": [p.to_json() for p in pool.by_hash.values()], "replaced": list(pool.replaced)},
    )


async def calls(request: Request) -> JSONResponse:
    records = list(_state(request).calls)
    method = request.query_params.get("method")
    if method is not None:
        records = [r for r in records if r["method"] == method]
    return JSONResponse(records)


async def reset(request: Request) -> JSONResponse:
    state = _state(request)
    state.reset()
    return JSONResponse({"status": "reset", **state.info()})


def _address(value: Any) -> bytes:
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            pass
    raise BadInput("address", "a 0x-prefixed 20-byte hex address")


def _amount(body: dict[str, Any], units_key: str, decimal_key: str, decimals: int) -> int:
    if units_key in body and decimal_key in body:
        raise BadInput(units_key, f"give {units_key} or {decimal_key}, not both")
    if units_key in body:
        value = body[units_key]
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise BadInput(units_key, "a whole number >= 0 (a string of digits for big numbers)")
        return value
    if decimal_key in body:
        try:
            amount = Decimal(str(body[decimal_key])) * 10**decimals
        except InvalidOperation:
            raise BadInput(decimal_key, 'a decimal number such as "1.5"') from None
        if isinstance(body[decimal_key], bool) or amount < 0 or amount != amount.to_integral_value():
            raise BadInput(decimal_key, f"a number >= 0 with at most {decimals} decimals")
        return int(amount)
    return 0
