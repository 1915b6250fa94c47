"""The baseline: a bare FastAPI app whose one endpoint returns a constant JSON object.

Served by the same ASGI server with the same worker count as the service, so the ratio of the service's
figures to these says what the service's own work costs, apart from the server and the machine.
"""

from __future__ import annotations

from fastapi import FastAPI

BARE_PATH = "/bare"
CONSTANT = {"status": "ok", "detail": "constant"}


def create_app() -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.post(BARE_PATH)
    async def bare() -> dict[str, str]:
        return CONSTANT

    return app
