"""Everything a request handler needs, built once per process at start-up and closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from psycopg_pool import AsyncConnectionPool

from app.chain.rpc import ChainRpc, build_rpc_session
from app.db.migrator import head_revision
from app.db.pool import open_pool
from app.flags.store import FlagCache
from app.http.client_ip import Network, parse_networks
from app.http.rate_limit import RateLimiter
from app.mpesa.client import DarajaClient, build_http_client
from app.mpesa.token_store import SharedTokenStore
from app.payments.packages import PackageCatalogue
from app.payments.service import PaymentService
from app.payouts.signing import treasury_account
from app.settings import Settings


@dataclass
class Services:
    settings: Settings
    pool: AsyncConnectionPool
    http: aiohttp.ClientSession
    daraja: DarajaClient
    flags: FlagCache
    packages: PackageCatalogue
    payments: PaymentService
    callback_sources: tuple[Network, ...]
    refused_callbacks: RateLimiter | None
    schema_head: str
    rpc_http: aiohttp.ClientSession
    rpc: ChainRpc
    treasury_address: str | None

    async def close(self) -> None:
        await self.http.close()
        await self.rpc_http.close()
        await self.pool.close()


async def build_services(settings: Settings) -> Services:
    pool = await open_pool(settings)
    http = build_http_client(settings)
    tokens = SharedTokenStore(
        pool,
        refresh_margin_seconds=settings.daraja_token_refresh_margin_seconds,
        fetch_timeout_seconds=settings.daraja_timeout_seconds,
    )
    daraja = DarajaClient(settings, http, tokens)
    flags = FlagCache(pool, settings.feature_flag_cache_seconds)
    packages = PackageCatalogue(pool)
    rpc_http = build_rpc_session(settings.chain_timeout_seconds, settings.chain_connect_timeout_seconds)
    key = settings.treasury_private_key
    return Services(
        settings=settings,
        pool=pool,
        http=http,
        daraja=daraja,
        flags=flags,
        packages=packages,
        payments=PaymentService(settings, pool, daraja, flags, packages),
        callback_sources=parse_networks(tuple(settings.callback_allowed_sources)),
        refused_callbacks=RateLimiter(settings.callback_refused_per_minute, settings.callback_refused_burst)
        if settings.rate_limit_enabled
        else None,
        schema_head=head_revision(),
        rpc_http=rpc_http,
        rpc=ChainRpc(settings.chain_rpc_url, rpc_http),
        treasury_address=treasury_account(key.get_secret_value()).address if key is not None else None,
    )
