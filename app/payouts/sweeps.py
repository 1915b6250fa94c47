"""The payout steps as the worker's sweeps, in the order one pass runs them."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

from app.chain.rpc import ChainRpc
from app.payouts.confirm import confirm_payouts
from app.payouts.context import PayoutContext, PayoutsNotConfigured
from app.payouts.send import send_payouts
from app.payouts.signing import treasury_account
from app.payouts.start import start_payouts
from app.payouts.track import track_payouts
from app.settings import Settings

PAYOUT_SWEEPS = (
    ("payouts.start", start_payouts),
    ("payouts.send", send_payouts),
    ("payouts.track", track_payouts),
    ("payouts.confirm", confirm_payouts),
)


def payout_context(settings: Settings, pool: AsyncConnectionPool, rpc: ChainRpc) -> PayoutContext:
    if settings.treasury_private_key is None:
        raise PayoutsNotConfigured("GOLIVE_TREASURY_PRIVATE_KEY is not set: payouts cannot be signed")
    return PayoutContext(settings, pool, rpc, treasury_account(settings.treasury_private_key.get_secret_value()))


async def run_payout_sweeps(ctx: PayoutContext) -> dict[str, int]:
    """One pass of every step (tests and `--once`); the worker runs them as separate sweeps."""
    return {name: await sweep(ctx) for name, sweep in PAYOUT_SWEEPS}
