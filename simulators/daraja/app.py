"""The ASGI application: Daraja's endpoints plus the /__sim__ control API."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Mount, Route

from simulators.daraja import control_api, daraja_api
from simulators.daraja.settings import Settings
from simulators.daraja.state import SimulatorState


def create_app(settings: Settings) -> Starlette:
    state = SimulatorState(settings)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await state.close()

    app = Starlette(
        routes=[
            Mount("/__sim__", routes=control_api.routes),
            Route("/oauth/v1/generate", daraja_api.generate_token, methods=["GET"]),
            Route("/mpesa/stkpush/v1/processrequest", daraja_api.stk_push, methods=["POST"]),
            Route("/mpesa/stkpushquery/v1/query", daraja_api.stk_query, methods=["POST"]),
            # Anything else (unknown path or wrong method) gets Daraja's 404.001.01.
            Route("/{path:path}", daraja_api.not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ],
        lifespan=lifespan,
    )
    app.state.simulator = state
    return app
