"""Verify helpers: each revision's verify() proves its schema is really there."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection


class SchemaVerificationError(RuntimeError):
    """The database does not have what an applied revision promised."""


def require_columns(connection: Connection, table: str, columns: set[str]) -> None:
    rows = connection.execute(
        text("SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = :t"),
        {"t": table},
    )
    present = {row[0] for row in rows}
    if not present:
        raise SchemaVerificationError(f"table {table} is missing")
    missing = columns - present
    if missing:
        raise SchemaVerificationError(f"table {table} lacks columns: {', '.join(sorted(missing))}")


def require_index(connection: Connection, name: str) -> None:
    found = connection.execute(text("SELECT to_regclass(:n)"), {"n": f"public.{name}"}).scalar()
    if found is None:
        raise SchemaVerificationError(f"index {name} is missing")


def require_rows(connection: Connection, query: str, minimum: int, what: str) -> None:
    count = connection.execute(text(query)).scalar() or 0
    if count < minimum:
        raise SchemaVerificationError(f"{what}: expected at least {minimum}, found {count}")
