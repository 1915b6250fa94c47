"""The release tooling's admin key kept in the state folder (StateLayout.admin_key): reused while the database knows it,
made again when another controller state (a test's copy releasing to the same lab) replaced it."""

from __future__ import annotations

from pathlib import Path

from app.admin.keys import hash_key
from foundation.admin_client import admin_key
from foundation.environment import load_environment
from foundation.state import StateLayout


def test_a_kept_key_is_reused_while_valid_and_replaced_when_not(db_url: str, db, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("GOLIVE_ADMIN_API_KEY", raising=False)
    env = load_environment("local")  # secrets: generated
    mine, theirs = StateLayout(tmp_path / "mine"), StateLayout(tmp_path / "theirs")
    first = admin_key(env, db_url, mine)
    assert admin_key(env, db_url, mine) == first
    other = admin_key(env, db_url, theirs)  # another state: it replaces the tooling key in the database
    assert other != first
    renewed = admin_key(env, db_url, mine)
    assert renewed not in (first, other)  # a new key: `first` was no longer valid
    row = db.execute("SELECT 1 FROM api_keys WHERE key_hash = %s", (hash_key(renewed),)).fetchone()
    assert row is not None
    assert mine.admin_key("local").read_text().strip() == renewed
