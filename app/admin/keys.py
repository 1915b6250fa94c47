"""Admin API keys: random, shown once, stored only as a SHA-256 hash (they carry 256 bits of entropy,
so a fast hash is enough and keeps the check cheap)."""

from __future__ import annotations

import hashlib
import secrets

from psycopg import AsyncConnection

KEY_PREFIX = "glk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


async def create_key(conn: AsyncConnection, name: str) -> str:
    key = new_key()
    await conn.execute("INSERT INTO api_keys (name, key_hash) VALUES (%s, %s)", (name, hash_key(key)))
    return key


async def revoke_key(conn: AsyncConnection, name: str) -> bool:
    cursor = await conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL", (name,)
    )
    return cursor.rowcount == 1


async def list_keys(conn: AsyncConnection) -> list[tuple[str, str, str | None]]:
    cursor = await conn.execute("SELECT name, created_at::text, revoked_at::text FROM api_keys ORDER BY name")
    return [(row[0], row[1], row[2]) for row in await cursor.fetchall()]


async def authenticate(conn: AsyncConnection, presented: str | None) -> str | None:
    """The key's name, or None. The lookup is by hash, so no comparison leaks the key's prefix."""
    if not presented or not presented.startswith(KEY_PREFIX) or len(presented) > 128:
        return None
    cursor = await conn.execute(
        "SELECT name FROM api_keys WHERE key_hash = %s AND revoked_at IS NULL", (hash_key(presented),)
    )
    row = await cursor.fetchone()
    return row[0] if row else None
