"""USDT payouts: payout states on payments, one payout per payment, every transaction sent for it, the
treasury's nonce allocator, and the worker's leader lease.

Expand only: the code before this revision runs unchanged against it (it never reads the new tables, and
the wider state check admits everything it writes), so a code rollback needs no database restore.

Revision ID: 0002
Revises: 0001
"""

from alembic import op
from sqlalchemy import text
from sqlalchemy.engine import Connection

from app.migrations.checks import SchemaVerificationError, require_columns, require_index

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PAYOUT_STATES = ("payout_pending", "broadcast", "confirming", "completed", "payout_failed")
STATES_BEFORE = ("initiated", "submitted", "paid", "failed", "unknown")
TABLES = ("worker_leases", "treasury_nonces", "payout_transactions", "payouts")


def _state_check(states: tuple[str, ...]) -> str:
    listed = ", ".join(f"'{state}'" for state in states)
    return (
        "ALTER TABLE payments DROP CONSTRAINT payments_state_check, "
        f"ADD CONSTRAINT payments_state_check CHECK (state IN ({listed}))"
    )


def upgrade() -> None:
    op.execute(_state_check(STATES_BEFORE + PAYOUT_STATES))
    op.execute("""
    -- One row per payment: a payment can never be paid out twice (the primary key refuses a second payout).
    CREATE TABLE payouts (
        payment_id     uuid PRIMARY KEY REFERENCES payments (id),
        chain_id       bigint NOT NULL,
        token_address  text NOT NULL CHECK (token_address ~ '^0x[0-9a-fA-F]{40}$'),
        sender         text NOT NULL CHECK (sender ~ '^0x[0-9a-fA-F]{40}$'),
        to_address     text NOT NULL CHECK (to_address ~ '^0x[0-9a-fA-F]{40}$'),
        amount_units   numeric(78, 0) NOT NULL CHECK (amount_units > 0),
        nonce          bigint CHECK (nonce >= 0),
        tx_hash        text,            -- the transaction that was mined
        block_number   bigint,
        block_hash     text,
        waiting_for    text,            -- why it has not been sent yet (treasury short of USDT or gas)
        last_error     text,
        send_failures  integer NOT NULL DEFAULT 0,  -- in a row; past a limit, a person looks
        created_at     timestamptz NOT NULL DEFAULT now(),
        updated_at     timestamptz NOT NULL DEFAULT now(),
        completed_at   timestamptz,
        UNIQUE (chain_id, sender, nonce)
    );

    -- Every transaction signed for a payout, stored (raw) before it is broadcast: after a crash the same bytes
    -- are sent again, and every hash is checked for a receipt.
    CREATE TABLE payout_transactions (
        tx_hash                   text PRIMARY KEY CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
        payment_id                uuid NOT NULL REFERENCES payouts (payment_id),
        nonce                     bigint NOT NULL,
        max_fee_per_gas           numeric(78, 0) NOT NULL,
        max_priority_fee_per_gas  numeric(78, 0) NOT NULL,
        gas_limit                 bigint NOT NULL,
        raw                       bytea NOT NULL,
        created_at                timestamptz NOT NULL DEFAULT now(),
        sent_at                   timestamptz,
        send_error                text
    );
    CREATE INDEX payout_transactions_payment_idx ON payout_transactions (payment_id, created_at);

    -- The treasury's next nonce, held here rather than trusted to the node's pending count.
    CREATE TABLE treasury_nonces (
        chain_id    bigint NOT NULL,
        sender      text NOT NULL,
        next_nonce  bigint NOT NULL CHECK (next_nonce >= 0),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (chain_id, sender)
    );

    -- Leader election for `python -m app.worker`: one row per role, held by one worker until its lease expires.
    CREATE TABLE worker_leases (
        role         text PRIMARY KEY,
        holder       text NOT NULL,
        fence        bigint NOT NULL,
        acquired_at  timestamptz NOT NULL DEFAULT now(),
        expires_at   timestamptz NOT NULL
    );
    """)


def downgrade() -> None:
    connection = op.get_bind()
    stranded = connection.execute(
        text("SELECT count(*) FROM payments WHERE state = ANY(:states)"), {"states": list(PAYOUT_STATES)}
    ).scalar()
    if stranded:
        raise RuntimeError(
            f"{stranded} payments are in payout states that revision 0001 does not know: "
            "downgrading would strand them (roll the code back instead; this revision is expand-only)"
        )
    op.execute("; ".join(f"DROP TABLE {table}" for table in TABLES))
    op.execute(_state_check(STATES_BEFORE))


def verify(connection: Connection) -> None:
    require_columns(
        connection,
        "payouts",
        {"payment_id", "chain_id", "token_address", "sender", "to_address", "amount_units", "nonce", "tx_hash"},
    )
    require_columns(
        connection, "payout_transactions", {"tx_hash", "payment_id", "nonce", "raw", "max_fee_per_gas", "sent_at"}
    )
    require_columns(connection, "treasury_nonces", {"chain_id", "sender", "next_nonce"})
    require_columns(connection, "worker_leases", {"role", "holder", "fence", "expires_at"})
    require_index(connection, "payout_transactions_payment_idx")
    check = connection.execute(
        text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'payments_state_check'")
    ).scalar()
    if check is None or "payout_pending" not in check:
        raise SchemaVerificationError("payments.state does not admit the payout states")
