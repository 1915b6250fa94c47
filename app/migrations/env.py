"""Alembic environment: always runs on a connection handed over by app.db.migrator.

The migrator owns the connection so that the advisory lock and the timeouts it set cover every
revision; running `alembic` directly is not supported — use `python -m app.db migrate`.
"""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations with `python -m app.db migrate`, not the alembic command")

context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()
