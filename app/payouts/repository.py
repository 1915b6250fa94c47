"""SQL for payouts. A payout's row changes in the same transaction as its payment's state (and event)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import class_row

from app.payments import repository as payments

PAYOUT_COLUMNS = (
    "o.payment_id, o.chain_id, o.token_address, o.sender, o.to_address, o.amount_units, o.nonce, o.tx_hash,"
    " o.block_number, o.block_hash, o.waiting_for, o.last_error, o.created_at, o.updated_at, p.state, p.settled_at"
)


@dataclass(frozen=True)
class Payout:
    payment_id: UUID
    chain_id: int
    token_address: str
    sender: str
    to_address: str
    amount_units: Decimal
    nonce: int | None
    tx_hash: str | None
    block_number: int | None
    block_hash: str | None
    waiting_for: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    state: str
    settled_at: datetime | None

    @property
    def amount(self) -> int:
        return int(self.amount_units)


@dataclass(frozen=True)
class SentTransaction:
    tx_hash: str
    payment_id: UUID
    nonce: int
    max_fee_per_gas: Decimal
    max_priority_fee_per_gas: Decimal
    gas_limit: int
    raw: bytes
    created_at: datetime
    sent_at: datetime | None
    send_error: str | None


async def payouts_in(conn: AsyncConnection, state: str, limit: int, *, unsent_only: bool = False) -> list[Payout]:
    extra = " AND o.nonce IS NULL" if unsent_only else ""
    async with conn.cursor(row_factory=class_row(Payout)) as cur:
        await cur.execute(
            f"SELECT {PAYOUT_COLUMNS} FROM payouts o JOIN payments p ON p.id = o.payment_id"
            f" WHERE p.state = %s{extra} ORDER BY o.created_at LIMIT %s",
            (state, limit),
        )
        return await cur.fetchall()


async def payout(conn: AsyncConnection, payment_id: UUID, *, for_update: bool = False) -> Payout | None:
    lock = " FOR UPDATE OF o, p" if for_update else ""
    async with conn.cursor(row_factory=class_row(Payout)) as cur:
        await cur.execute(
            f"SELECT {PAYOUT_COLUMNS} FROM payouts o JOIN payments p ON p.id = o.payment_id"
            f" WHERE o.payment_id = %s{lock}",
            (payment_id,),
        )
        return await cur.fetchone()


async def transactions(conn: AsyncConnection, payment_id: UUID) -> list[SentTransaction]:
    """Every transaction signed for the payout, the newest last."""
    async with conn.cursor(row_factory=class_row(SentTransaction)) as cur:
        await cur.execute(
            "SELECT tx_hash, payment_id, nonce, max_fee_per_gas, max_priority_fee_per_gas, gas_limit, raw, created_at,"
            " sent_at, send_error FROM payout_transactions WHERE payment_id = %s ORDER BY created_at, tx_hash",
            (payment_id,),
        )
        return await cur.fetchall()


async def unsent(conn: AsyncConnection, limit: int) -> list[SentTransaction]:
    """Transactions stored but not (known to be) sent, of payouts still waiting for a receipt."""
    async with conn.cursor(row_factory=class_row(SentTransaction)) as cur:
        await cur.execute(
            "SELECT t.tx_hash, t.payment_id, t.nonce, t.max_fee_per_gas, t.max_priority_fee_per_gas, t.gas_limit,"
            " t.raw, t.created_at, t.sent_at, t.send_error FROM payout_transactions t"
            " JOIN payments p ON p.id = t.payment_id"
            " WHERE t.sent_at IS NULL AND p.state = 'broadcast' ORDER BY t.nonce, t.created_at LIMIT %s",
            (limit,),
        )
        return await cur.fetchall()


async def store_transaction(
    conn: AsyncConnection, payment_id: UUID, *, tx_hash: str, nonce: int, fees: Any, gas: int, raw: bytes
) -> None:
    await conn.execute(
        "INSERT INTO payout_transactions (tx_hash, payment_id, nonce, max_fee_per_gas, max_priority_fee_per_gas,"
        " gas_limit, raw) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (tx_hash, payment_id, nonce, fees.max_fee_per_gas, fees.max_priority_fee_per_gas, gas, raw),
    )


async def mark_sent(conn: AsyncConnection, tx_hash: str, note: str | None = None) -> None:
    await conn.execute(
        """WITH t AS (UPDATE payout_transactions SET sent_at = coalesce(sent_at, now()), send_error = %s
                      WHERE tx_hash = %s RETURNING payment_id)
           UPDATE payouts SET send_failures = 0, last_error = NULL, updated_at = now()
           WHERE payment_id = (SELECT payment_id FROM t)""",
        (note, tx_hash),
    )


async def record_send_error(conn: AsyncConnection, tx_hash: str, error: str) -> int:
    """Keeps the transaction unsent (the next sweep sends it again); answers the payout's failures so far."""
    cursor = await conn.execute(
        """WITH t AS (UPDATE payout_transactions SET send_error = %s WHERE tx_hash = %s RETURNING payment_id)
           UPDATE payouts SET last_error = %s, send_failures = send_failures + 1, updated_at = now()
           WHERE payment_id = (SELECT payment_id FROM t) RETURNING send_failures""",
        (error[:500], tx_hash, error[:500]),
    )
    row = await cursor.fetchone()
    return row[0] if row else 0


async def set_waiting(conn: AsyncConnection, payment_id: UUID, reason: str | None) -> None:
    await conn.execute(
        "UPDATE payouts SET waiting_for = %s, updated_at = now() WHERE payment_id = %s"
        " AND waiting_for IS DISTINCT FROM %s",
        (reason, payment_id, reason),
    )


async def next_nonce(conn: AsyncConnection, chain_id: int, sender: str, chain_count: int) -> int:
    """The treasury's next nonce: the larger of ours and the chain's confirmed count (never the node's pending
    count alone), taken under the row's lock, within the caller's transaction."""
    cursor = await conn.execute(
        """INSERT INTO treasury_nonces (chain_id, sender, next_nonce) VALUES (%(c)s, %(s)s, %(n)s + 1)
           ON CONFLICT (chain_id, sender) DO UPDATE
           SET next_nonce = greatest(treasury_nonces.next_nonce, %(n)s) + 1, updated_at = now()
           RETURNING next_nonce - 1""",
        {"c": chain_id, "s": sender.lower(), "n": chain_count},
    )
    row = await cursor.fetchone()
    assert row is not None
    return row[0]


async def move(
    conn: AsyncConnection,
    payment_id: UUID,
    *,
    allowed_from: tuple[str, ...],
    to_state: str,
    reason: str,
    detail: dict[str, Any] | None = None,
    needs_review: bool | None = None,
) -> bool:
    fields: dict[str, Any] = {} if needs_review is None else {"needs_review": needs_review}
    moved = await payments.transition(
        conn, payment_id, allowed_from=allowed_from, to_state=to_state, reason=reason, detail=detail, **fields
    )
    return moved is not None
