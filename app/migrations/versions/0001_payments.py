"""Payments, their transitions, raw callbacks, packages, feature flags, admin keys, the shared token.

Revision ID: 0001
Revises:
"""

from alembic import op
from sqlalchemy.engine import Connection

from app.migrations.checks import require_columns, require_index, require_rows

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = ("daraja_tokens", "api_keys", "feature_flags", "stk_callbacks", "payment_events", "payments", "packages")


def upgrade() -> None:
    op.execute("""
    CREATE TABLE packages (
        id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9-]{1,32}$'),
        name        text NOT NULL,
        price_kes   integer NOT NULL CHECK (price_kes BETWEEN 1 AND 250000),
        usdt_amount numeric(20, 6) NOT NULL CHECK (usdt_amount > 0),
        active      boolean NOT NULL DEFAULT true
    );
    INSERT INTO packages (id, name, price_kes, usdt_amount) VALUES
        ('usdt-5', '5 USDT', 650, 5),
        ('usdt-10', '10 USDT', 1300, 10),
        ('usdt-50', '50 USDT', 6500, 50),
        ('usdt-100', '100 USDT', 13000, 100);

    CREATE TABLE payments (
        id                   uuid PRIMARY KEY,
        idempotency_key      text NOT NULL UNIQUE,
        request_fingerprint  text NOT NULL,
        msisdn               text NOT NULL CHECK (msisdn ~ '^254[17][0-9]{8}$'),
        package_id           text NOT NULL REFERENCES packages (id),
        amount_kes           integer NOT NULL CHECK (amount_kes BETWEEN 1 AND 250000),
        wallet_address       text NOT NULL CHECK (wallet_address ~ '^0x[0-9a-fA-F]{40}$'),
        state                text NOT NULL
                             CHECK (state IN ('initiated', 'submitted', 'paid', 'failed', 'unknown')),
        needs_review         boolean NOT NULL DEFAULT false,
        merchant_request_id  text,
        checkout_request_id  text UNIQUE,
        mpesa_receipt        text UNIQUE,
        result_code          integer,
        result_desc          text,
        failure_reason       text,
        retryable            boolean NOT NULL DEFAULT false,
        submitted_at         timestamptz,
        settled_at           timestamptz,
        created_at           timestamptz NOT NULL DEFAULT now(),
        updated_at           timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX payments_state_updated_idx ON payments (state, updated_at);

    CREATE TABLE payment_events (
        id          bigserial PRIMARY KEY,
        payment_id  uuid NOT NULL REFERENCES payments (id),
        from_state  text,
        to_state    text NOT NULL,
        reason      text NOT NULL,
        detail      jsonb,
        at          timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    CREATE INDEX payment_events_payment_idx ON payment_events (payment_id, id);

    -- Raw callbacks are stored before anything else, so no foreign key may refuse one.
    CREATE TABLE stk_callbacks (
        id                   bigserial PRIMARY KEY,
        payment_id           uuid NOT NULL,
        received_at          timestamptz NOT NULL DEFAULT now(),
        source_ip            inet,
        headers              jsonb NOT NULL DEFAULT '{}',
        body                 bytea NOT NULL,
        status               text NOT NULL DEFAULT 'received'
                             CHECK (status IN ('received', 'applied', 'duplicate', 'ignored', 'malformed', 'conflict')),
        checkout_request_id  text,
        result_code          integer,
        note                 text,
        processed_at         timestamptz
    );
    CREATE INDEX stk_callbacks_payment_idx ON stk_callbacks (payment_id);
    CREATE INDEX stk_callbacks_unprocessed_idx ON stk_callbacks (id) WHERE status = 'received';

    CREATE TABLE feature_flags (
        feature     text PRIMARY KEY CHECK (feature ~ '^[a-z][a-z0-9_]{0,63}$'),
        enabled     boolean NOT NULL,
        percentage  smallint NOT NULL CHECK (percentage BETWEEN 0 AND 100),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        updated_by  text NOT NULL DEFAULT 'migration'
    );
    INSERT INTO feature_flags (feature, enabled, percentage) VALUES ('mpesa_payments', true, 100);

    CREATE TABLE api_keys (
        id          bigserial PRIMARY KEY,
        name        text NOT NULL UNIQUE,
        key_hash    text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
        created_at  timestamptz NOT NULL DEFAULT now(),
        revoked_at  timestamptz
    );

    -- One OAuth token per deployment: Daraja invalidates the previous token when it issues one.
    CREATE TABLE daraja_tokens (
        id            smallint PRIMARY KEY CHECK (id = 1),
        access_token  text NOT NULL,
        expires_at    timestamptz NOT NULL,
        fetched_at    timestamptz NOT NULL DEFAULT now()
    );
    """)


def downgrade() -> None:
    op.execute("; ".join(f"DROP TABLE {table}" for table in TABLES))


def verify(connection: Connection) -> None:
    require_columns(
        connection,
        "payments",
        {
            "id",
            "idempotency_key",
            "msisdn",
            "package_id",
            "amount_kes",
            "wallet_address",
            "state",
            "checkout_request_id",
            "mpesa_receipt",
            "result_code",
            "needs_review",
        },
    )
    require_columns(connection, "payment_events", {"payment_id", "from_state", "to_state", "reason", "at"})
    require_columns(connection, "stk_callbacks", {"payment_id", "body", "status", "received_at"})
    require_columns(connection, "feature_flags", {"feature", "enabled", "percentage"})
    require_columns(connection, "api_keys", {"name", "key_hash", "revoked_at"})
    require_columns(connection, "daraja_tokens", {"access_token", "expires_at"})
    require_index(connection, "stk_callbacks_unprocessed_idx")
    require_rows(connection, "SELECT count(*) FROM packages WHERE active", 1, "active packages")
