"""Payout tests: the chain simulator as a real server (reset before each test), a fresh migrated database per
test, and the payout steps run in this process against both."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from eth_account import Account

from app.chain.rpc import ChainRpc, build_rpc_session
from app.chain.token import TRANSFER_TOPIC
from app.db import migrator
from app.db.pool import open_pool
from app.payouts import confirm, send, start, track
from app.payouts.context import payout_context
from app.settings import load_settings
from tests.simulators.chain.chain_harness import TREASURY_KEY, Control

TREASURY = Account.from_key(TREASURY_KEY).address
# One pass of the payout steps, in the order the worker's sweeps run them (app/worker/registry.py).
STEPS = {
    "payouts.start": start.start_payouts,
    "payouts.send": send.send_payouts,
    "payouts.track": track.track_payouts,
    "payouts.confirm": confirm.confirm_payouts,
}


class PayoutWorld:
    """The payout steps on their own event loop, a database and the chain."""

    def __init__(self, db_url: str, chain_url: str, control: Control, state_dir: Path, **settings: Any):
        self.db_url, self.chain_url, self.control = db_url, chain_url, control
        self.settings = load_settings(
            env="test",
            state_dir=state_dir,
            database_url=db_url,
            chain_rpc_url=chain_url,
            treasury_private_key=settings.pop("treasury_key", TREASURY_KEY),
            **settings,
        )
        self.loop = asyncio.new_event_loop()
        self.pool = self.run(open_pool(self.settings))
        self.http = self.run(_session())
        self.ctx = payout_context(self.settings, self.pool, ChainRpc(chain_url, self.http))
        self.db = psycopg.connect(db_url, autocommit=True)

    def run(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(awaitable)

    def sweep(self, *names: str) -> dict[str, int]:
        steps = [(name, step) for name, step in STEPS.items() if not names or name.split(".")[1] in names]
        return {name: self.run(step(self.ctx)) for name, step in steps}

    def close(self) -> None:
        self.run(self.http.close())
        self.run(self.pool.close())
        self.loop.close()
        self.db.close()

    # --- the database ---------------------------------------------------------------------------------------

    def paid(self, package_id: str = "usdt-10", wallet: str | None = None) -> tuple[str, str]:
        """A payment in state paid (as a success callback leaves it): its id and wallet."""
        wallet = wallet or Account.create().address
        payment_id = uuid.uuid4()
        price = self.db.execute("SELECT price_kes FROM packages WHERE id = %s", (package_id,)).fetchone()[0]
        self.db.execute(
            "INSERT INTO payments (id, idempotency_key, request_fingerprint, msisdn, package_id, amount_kes,"
            " wallet_address, state, mpesa_receipt, result_code, settled_at)"
            " VALUES (%s, %s, 'fp', '254708374149', %s, %s, %s, 'paid', %s, 0, now())",
            (payment_id, str(payment_id), package_id, price, wallet, "R" + payment_id.hex[:9].upper()),
        )
        return str(payment_id), wallet

    def state(self, payment_id: str) -> str:
        return self.db.execute("SELECT state FROM payments WHERE id = %s", (payment_id,)).fetchone()[0]

    def payout(self, payment_id: str) -> dict[str, Any]:
        cursor = self.db.execute("SELECT * FROM payouts WHERE payment_id = %s", (payment_id,))
        names = [column.name for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))

    def hashes(self, payment_id: str) -> list[str]:
        rows = self.db.execute(
            "SELECT tx_hash FROM payout_transactions WHERE payment_id = %s ORDER BY created_at, tx_hash", (payment_id,)
        ).fetchall()
        return [row[0] for row in rows]

    def events(self, payment_id: str) -> list[tuple[str, str]]:
        rows = self.db.execute(
            "SELECT to_state, reason FROM payment_events WHERE payment_id = %s ORDER BY id", (payment_id,)
        ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def review(self, payment_id: str) -> bool:
        return self.db.execute("SELECT needs_review FROM payments WHERE id = %s", (payment_id,)).fetchone()[0]

    # --- the chain ------------------------------------------------------------------------------------------

    def rpc(self, method: str, *params: Any) -> Any:
        answer = httpx.post(self.chain_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        body = answer.json()
        assert "error" not in body, body
        return body["result"]

    def transfers_from_treasury(self) -> dict[str, int]:
        """Every Transfer of the token from the treasury on the chain, summed by recipient."""
        logs = self.rpc(
            "eth_getLogs",
            {
                "fromBlock": "0x0",
                "toBlock": "latest",
                "address": self.settings.token_address,
                "topics": [TRANSFER_TOPIC, "0x" + "0" * 24 + self.ctx.sender[2:].lower()],
            },
        )
        sums: dict[str, int] = {}
        for log in logs:
            to = "0x" + log["topics"][2][-40:]
            sums[to] = sums.get(to, 0) + int(log["data"], 16)
        return sums


async def _session() -> Any:
    return build_rpc_session(5, 2)  # aiohttp wants its loop running


def usdt_units(amount: str) -> int:
    return int(Decimal(amount).scaleb(6))


@pytest.fixture
def make_world(database_factory, chain_url, control, tmp_path):
    worlds: list[PayoutWorld] = []

    def make(**settings: Any) -> PayoutWorld:
        url = database_factory("payouts")
        migrator.migrate(url)
        world = PayoutWorld(url, chain_url, control, tmp_path / f"state{len(worlds)}", **settings)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        world.close()
