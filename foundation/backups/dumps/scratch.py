"""Databases a restore creates beside the live one (a proof's scratch database, `restore --into NAME`): created,
dropped, and taken in turns — two proofs that would use the same scratch database (the weekly timer's and a
release's) wait for each other instead of dropping the other's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from psycopg import sql

from .connection import Target, connect

SCRATCH_LOCK = 0x676F6C69  # "goli": the advisory lock class of scratch databases (with hashtext of the name)


def scratch_name(backup_id: str) -> str:
    """The scratch database a proof of this backup restores into unless told another."""
    return ("golive_prove_" + re.sub(r"[^a-z0-9_]", "_", backup_id.lower()))[:63]


def create_database(admin: Target, name: str) -> None:
    with connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))


def drop_database(admin: Target, name: str) -> None:
    with connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def database_exists(admin: Target, name: str) -> bool:
    with connect(admin, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


@contextmanager
def turn(admin: Target, scratch: str) -> Iterator[None]:
    """Holds a session advisory lock named after the scratch database while it is in use."""
    with connect(admin, autocommit=True) as conn:
        conn.execute(f"SELECT pg_advisory_lock({SCRATCH_LOCK}, hashtext(%s))", [scratch])
        yield
