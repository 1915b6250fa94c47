"""The ASGI application: JSON-RPC at / and the /__chain__ control API."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Route

from simulators.chain import control_api, rpc_api
from simulators.chain.state import SimulatorState

log = logging.getLogger("simulators.chain")
TICK_SECONDS = 0.05


def create_app(state: SimulatorState) -> Starlette:
    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        miner = asyncio.create_task(_interval_miner(state))
        yield
        miner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await miner

    control = "/__chain__"
    app = Starlette(
        routes=[
            Route("/", rpc_api.rpc, methods=["POST"]),
            Route("/", rpc_api.wrong_method, methods=["GET", "PUT", "DELETE", "PATCH"]),
            Route(f"{control}/health", control_api.health, methods=["GET"]),
            Route(f"{control}/info", control_api.info, methods=["GET"]),
            Route(f"{control}/mine", control_api.mine, methods=["POST"]),
            Route(f"{control}/mining", control_api.get_mining, methods=["GET"]),
            Route(f"{control}/mining", control_api.set_mining, methods=["POST"]),
            Route(f"{control}/faults", control_api.get_faults, methods=["GET"]),
            Route(f"{control}/faults", control_api.set_faults, methods=["POST"]),
            Route(f"{control}/faults/clear", control_api.clear_faults, methods=["POST"]),
            Route(f"{control}/fund", control_api.fund, methods=["POST"]),
            Route(f"{control}/snapshot", control_api.snapshot, methods=["POST"]),
            Route(f"{control}/revert", control_api.revert, methods=["POST"]),
            Route(f"{control}/txpool", control_api.txpool, methods=["GET"]),
            Route(f"{control}/calls", control_api.calls, methods=["GET"]),
            Route(f"{control}/reset", control_api.reset, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.simulator = state
    return app


async def _interval_miner(state: SimulatorState) -> None:
    while True:
        await asyncio.sleep(TICK_SECONDS)
        try:
            state.tick()
        except Exception:
            log.exception("interval mining failed")
