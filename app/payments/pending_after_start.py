"""Callbacks left 'received' by a process that died, applied once the service has started: off the start-up path,
so no stored row can keep an instance from starting (the worker's callback sweep takes them up too)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from psycopg_pool import AsyncConnectionPool

from app.payments.callbacks import apply_pending

log = logging.getLogger("golive.callbacks")


def start(pool: AsyncConnectionPool) -> asyncio.Task[None]:
    return asyncio.create_task(_apply(pool), name="apply pending callbacks")


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _apply(pool: AsyncConnectionPool) -> None:
    try:
        taken = await apply_pending(pool)
    except Exception:
        log.exception("stored callbacks could not be read after start; the worker's sweep takes them up")
        return
    if taken:
        log.info("stored callbacks taken up after start", extra={"recovered_callbacks": taken})
