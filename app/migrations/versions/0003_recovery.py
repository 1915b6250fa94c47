"""Recovery: the STK-query schedule on payments, and recovery cases (one row per stuck episode of a payment, so
recovery statistics can be computed and every manual resolution is recorded with its actor and reason).

Expand only: new nullable/defaulted columns and a new table; the code before this revision never reads them.

Revision ID: 0003
Revises: 0002
"""

from alembic import op
from sqlalchemy.engine import Connection

from app.migrations.checks import require_columns, require_index

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PAYMENT_COLUMNS = ("stk_queries", "next_query_at", "last_query_at", "last_query_result")


def upgrade() -> None:
    op.execute("""
    ALTER TABLE payments
        ADD COLUMN stk_queries        integer NOT NULL DEFAULT 0 CHECK (stk_queries >= 0),
        ADD COLUMN next_query_at      timestamptz,   -- the STK-query sweep asks Daraja again from then on
        ADD COLUMN last_query_at      timestamptz,
        ADD COLUMN last_query_result  text;          -- "4999", "500.001.1001", a result code, or an error

    -- What the sweeps look for without scanning settled payments.
    CREATE INDEX payments_submitted_idx ON payments (submitted_at) WHERE state = 'submitted';
    CREATE INDEX payments_needs_review_idx ON payments (updated_at) WHERE needs_review;

    -- A stuck episode: opened when a payment is found stuck (kind = why), closed when it leaves that condition:
    -- recovered (it moved on), escalated (it became stuck for another reason) or resolved (by a person).
    CREATE TABLE recovery_cases (
        id             bigserial PRIMARY KEY,
        payment_id     uuid NOT NULL REFERENCES payments (id),
        kind           text NOT NULL CHECK (kind ~ '^[a-z_]{1,40}$'),
        opened_at      timestamptz NOT NULL,                  -- when the payment entered the stuck condition
        detected_at    timestamptz NOT NULL DEFAULT now(),    -- when recovery noticed
        detail         text,                                  -- why it was opened
        closed_at      timestamptz,
        resolution     text CHECK (resolution IN ('recovered', 'escalated', 'resolved')),
        outcome_state  text,                                  -- the payment's state when the case closed
        actor          text,                                  -- worker, system, or the admin key's name
        reason         text,                                  -- why it closed (a person's written reason)
        CHECK ((closed_at IS NULL) = (resolution IS NULL))
    );
    -- At most one open case per payment and kind: opening is idempotent (ON CONFLICT DO NOTHING).
    CREATE UNIQUE INDEX recovery_cases_open_idx ON recovery_cases (payment_id, kind) WHERE closed_at IS NULL;
    CREATE INDEX recovery_cases_closed_idx ON recovery_cases (closed_at) WHERE closed_at IS NOT NULL;
    CREATE INDEX recovery_cases_payment_idx ON recovery_cases (payment_id, id);
    """)


def downgrade() -> None:
    op.execute("DROP TABLE recovery_cases")
    op.execute("DROP INDEX payments_submitted_idx; DROP INDEX payments_needs_review_idx")
    op.execute("ALTER TABLE payments " + ", ".join(f"DROP COLUMN {column}" for column in PAYMENT_COLUMNS))


def verify(connection: Connection) -> None:
    require_columns(connection, "payments", set(PAYMENT_COLUMNS))
    require_columns(
        connection,
        "recovery_cases",
        {"payment_id", "kind", "opened_at", "closed_at", "resolution", "outcome_state", "actor", "reason"},
    )
    require_index(connection, "recovery_cases_open_idx")
    require_index(connection, "payments_submitted_idx")
