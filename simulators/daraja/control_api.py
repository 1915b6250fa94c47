"""/__sim__: the control API tests and operators use to switch scenarios and read what happened."""

import json

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulators.daraja.config import ConfigError
from simulators.daraja.state import SimulatorState


def _state(request: Request) -> SimulatorState:
    return request.app.state.simulator


async def health(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def get_config(request: Request) -> JSONResponse:
    return JSONResponse(_state(request).config.to_json())


async def update_config(request: Request) -> JSONResponse:
    state = _state(request)
    try:
        update = json.loads(await request.body())
    except ValueError:
        return JSONResponse({"error": "body: not valid JSON", "key": "body"}, status_code=400)
    try:
        state.config = state.config.updated(update)
    except ConfigError as error:
        return JSONResponse({"error": str(error), "key": error.key}, status_code=400)
    return JSONResponse(state.config.to_json())


async def list_requests(request: Request) -> JSONResponse:
    records = _state(request).requests
    path = request.query_params.get("path")
    if path is not None:
        records = [record for record in records if record["path"] == path]
    return JSONResponse(records)


async def list_callbacks(request: Request) -> JSONResponse:
    return JSONResponse(_state(request).callbacks)


async def list_pushes(request: Request) -> JSONResponse:
    return JSONResponse([push.to_json() for push in _state(request).pushes.values()])


async def reset(request: Request) -> JSONResponse:
    state = _state(request)
    state.reset()
    return JSONResponse({"status": "reset", "config": state.config.to_json()})


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/config", get_config, methods=["GET"]),
    Route("/config", update_config, methods=["POST"]),
    Route("/requests", list_requests, methods=["GET"]),
    Route("/callbacks", list_callbacks, methods=["GET"]),
    Route("/pushes", list_pushes, methods=["GET"]),
    Route("/reset", reset, methods=["POST"]),
]
