"""The service's connection pool (psycopg 3, async). Connections autocommit: every multi-statement
change opens an explicit transaction, and single statements need no BEGIN/COMMIT round trips."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

from app.db.urls import database_url
from app.settings import Settings


async def open_pool(settings: Settings) -> AsyncConnectionPool:
    pool = AsyncConnectionPool(
        database_url(settings),
        min_size=settings.db_pool_min,
        max_size=max(settings.db_pool_min, settings.db_pool_max),
        kwargs={
            "autocommit": True,
            "options": f"-c statement_timeout={settings.db_statement_timeout_ms} -c lock_timeout=2000",
            "application_name": f"golive-{settings.release_id}",
        },
        open=False,
        timeout=5.0,
        name="golive",
    )
    await pool.open(wait=True, timeout=15.0)
    return pool
