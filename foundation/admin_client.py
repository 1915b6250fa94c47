"""The release tooling as an admin of the service: feature flags through the same API an operator's
curl uses (x-api-key). The key comes from GOLIVE_ADMIN_API_KEY; environments with generated secrets
get one made for the tooling and kept in the state folder (StateLayout.admin_key, 0600)."""

from __future__ import annotations

import os
from typing import Any

import httpx
import psycopg

from app.contract import hash_key, new_key
from foundation.environment import Environment
from foundation.state import StateLayout

KEY_NAME = "release-tooling"


class AdminKeyMissing(Exception):
    pass


def admin_key(env: Environment, db_url: str, state: StateLayout) -> str:
    if os.environ.get("GOLIVE_ADMIN_API_KEY"):
        return os.environ["GOLIVE_ADMIN_API_KEY"]
    if env.secrets.source != "generated":
        raise AdminKeyMissing(
            f"GOLIVE_ADMIN_API_KEY is not set (an x-api-key for {env.name}: python -m app.admin create-key)"
        )
    path = state.admin_key(env.name)
    if path.exists():
        kept = path.read_text().strip()
        if not db_url or _known(db_url, kept):
            return kept
        # Another controller state (a test's copy) made the tooling key since: this one is no longer valid.
    key = new_key()
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DELETE FROM api_keys WHERE name = %s", (KEY_NAME,))
        conn.execute("INSERT INTO api_keys (name, key_hash) VALUES (%s, %s)", (KEY_NAME, hash_key(key)))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def _known(db_url: str, key: str) -> bool:
    try:
        with psycopg.connect(db_url, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT 1 FROM api_keys WHERE key_hash = %s AND revoked_at IS NULL", (hash_key(key),)
            ).fetchone()
    except psycopg.Error:
        return True  # cannot tell: keep the key (a wrong one shows as a 401 where it is used)
    return row is not None


class FlagClient:
    def __init__(self, entry_url: str, key: str, *, verify: bool = True):
        self._http = httpx.Client(base_url=entry_url, headers={"x-api-key": key}, timeout=10, verify=verify)

    def get(self, feature: str) -> dict[str, Any] | None:
        response = self._http.get("/api/admin/feature-flags")
        response.raise_for_status()
        return next((flag for flag in response.json() if flag["feature"] == feature), None)

    def set(self, feature: str, *, enabled: bool, percentage: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"feature": feature, "enabled": enabled}
        if percentage is not None:
            body["percentage"] = percentage
        response = self._http.post("/api/admin/feature-flags", json=body)
        if response.status_code != 200:
            raise RuntimeError(f"setting {feature} answered {response.status_code}: {response.text[:300]}")
        return response.json()
