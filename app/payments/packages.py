"""The package catalogue, cached per process: prices change by migration, not per request."""

from __future__ import annotations

import time

from psycopg_pool import AsyncConnectionPool

from app.payments.model import Package
from app.payments.repository import active_packages

CACHE_SECONDS = 30.0


class PackageCatalogue:
    def __init__(self, pool: AsyncConnectionPool):
        self._pool = pool
        self._packages: dict[str, Package] = {}
        self._loaded_at = float("-inf")

    async def all(self) -> list[Package]:
        if time.monotonic() - self._loaded_at >= CACHE_SECONDS:
            async with self._pool.connection() as conn:
                self._packages = {package.id: package for package in await active_packages(conn)}
            self._loaded_at = time.monotonic()
        return list(self._packages.values())

    async def get(self, package_id: str) -> Package | None:
        await self.all()
        return self._packages.get(package_id)
