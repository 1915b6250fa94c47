"""What every sweep receives: `async def sweep(ctx: SweepContext) -> int` (the number of items it handled)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from psycopg_pool import AsyncConnectionPool

from app.mpesa.client import DarajaClient
from app.services import Services
from app.settings import Settings
from app.worker.lease import Lease


@dataclass(frozen=True)
class SweepContext:
    """
    services  app.services.Services built by build_services(settings): pool, http (aiohttp session), daraja,
              flags, packages, payments — anything added to Services later is here too.
    lease     the leader lease; `async with ctx.lease.fenced(conn):` is a transaction that refuses to commit
              (raises LeaseLost) once this worker is no longer the leader. Put every write that must not be
              made twice inside one; never make a network call inside it (it holds the lease row).
    name      this sweep's registered name; log is logging.getLogger(f"golive.worker.{name}") (JSON lines).
    limit     the most items a sweep should take in one pass (GOLIVE_WORKER_BATCH_SIZE).
    settings, pool, daraja  shortcuts into services.
    """

    services: Services
    lease: Lease
    name: str = "worker"
    limit: int = 100
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("golive.worker"))

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def pool(self) -> AsyncConnectionPool:
        return self.services.pool

    @property
    def daraja(self) -> DarajaClient:
        return self.services.daraja

    def for_sweep(self, name: str) -> SweepContext:
        return SweepContext(self.services, self.lease, name, self.limit, logging.getLogger(f"golive.worker.{name}"))
