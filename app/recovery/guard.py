"""How a recovery write is wrapped: the worker's writes are fenced by its leader lease (Lease.fenced); an
operator's request through the API writes in a plain transaction (every write is also conditional on the
payment's state, so a worker and an operator acting at once cannot both apply)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from psycopg import AsyncConnection

Guard = Callable[[AsyncConnection], AbstractAsyncContextManager[AsyncConnection]]


@asynccontextmanager
async def unfenced(conn: AsyncConnection) -> AsyncIterator[AsyncConnection]:
    async with conn.transaction():
        yield conn
