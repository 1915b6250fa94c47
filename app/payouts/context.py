"""What every payout step needs: the database, the chain, the treasury account and the token."""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount
from psycopg_pool import AsyncConnectionPool

from app.chain.rpc import ChainRpc
from app.chain.token import DECIMALS, decode_uint
from app.payouts.signing import treasury_account
from app.settings import Settings


class PayoutsNotConfigured(RuntimeError):
    """Payouts are enabled but a setting they need is missing."""


@dataclass
class PayoutContext:
    settings: Settings
    pool: AsyncConnectionPool
    rpc: ChainRpc
    account: LocalAccount
    _decimals: int | None = field(default=None, repr=False)

    @property
    def sender(self) -> str:
        return self.account.address

    @property
    def token(self) -> str:
        return self.settings.token_address

    @property
    def chain_id(self) -> int:
        return self.settings.chain_id

    async def decimals(self) -> int:
        """Read from the contract once per process (a token's decimals never change)."""
        if self._decimals is None:
            value = decode_uint(await self.rpc.call("eth_call", {"to": self.token, "data": DECIMALS}, "latest"))
            if not 0 <= value <= 36:
                raise PayoutsNotConfigured(f"the token at {self.token} reports {value} decimals: not a USDT token")
            self._decimals = value
        return self._decimals


def payout_context(settings: Settings, pool: AsyncConnectionPool, rpc: ChainRpc) -> PayoutContext:
    if settings.treasury_private_key is None:
        raise PayoutsNotConfigured("GOLIVE_TREASURY_PRIVATE_KEY is not set: payouts cannot be signed")
    return PayoutContext(settings, pool, rpc, treasury_account(settings.treasury_private_key.get_secret_value()))
