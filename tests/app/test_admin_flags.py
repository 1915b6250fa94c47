"""The admin API (x-api-key, stored hashed), the payments rollout flag with deterministic bucketing,
and the admin CLI that makes and revokes keys."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.admin.keys import hash_key
from app.flags.bucketing import bucket
from app.payments.service import PAYMENTS_FEATURE
from foundation.repository import REPO_ROOT
from tests.support.service import RunningService, msisdn, new_admin_key, phone

FLAGS = "/api/admin/feature-flags"


def _payers(admitted_below: int, count: int, *, admitted: bool) -> list[str]:
    """Fresh success-ending numbers whose bucket is below (or at/above) the percentage."""
    found: list[str] = []
    while len(found) < count:
        number = phone("00")
        if (bucket(PAYMENTS_FEATURE, msisdn(number)) < admitted_below) == admitted:
            found.append(number)
    return found


@pytest.fixture
def admin_key(db_url: str) -> str:
    return new_admin_key(db_url)


@pytest.fixture
def rollout(service: RunningService, admin_key: str, db) -> Iterator[Callable[..., dict]]:
    """Sets the payments flag through the API; always back to enabled/100 afterwards, since the session
    service is shared by every other test."""

    def set_flag(**body: object) -> dict:
        response = service.http.post(
            FLAGS, json={"feature": PAYMENTS_FEATURE, **body}, headers={"x-api-key": admin_key}
        )
        assert response.status_code == 200, response.text
        return response.json()

    try:
        yield set_flag
    finally:
        db.execute(
            "UPDATE feature_flags SET enabled = true, percentage = 100, updated_by = 'tests' WHERE feature = %s",
            (PAYMENTS_FEATURE,),
        )


def _pushed_numbers(sim) -> list[str]:
    """Numbers Daraja accepted a push for (a push refused for a stale token is retried once)."""
    return [push["body"]["PhoneNumber"] for push in sim.accepted_pushes()]


# -- authentication ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_admin_api_needs_a_valid_key(service: RunningService, db_url: str, admin_key: str, db, method: str):
    body = {"feature": PAYMENTS_FEATURE, "enabled": True, "percentage": 100}
    revoked = new_admin_key(db_url)
    db.execute("UPDATE api_keys SET revoked_at = now() WHERE key_hash = %s", (hash_key(revoked),))

    def send(headers: dict[str, str]):
        return service.http.request(method, FLAGS, json=body if method == "POST" else None, headers=headers)

    refused = {
        "no key": send({}),
        "wrong key": send({"x-api-key": "glk_" + uuid.uuid4().hex}),
        "not even our prefix": send({"x-api-key": "not-a-key"}),
        "revoked key": send({"x-api-key": revoked}),
    }
    for why, response in refused.items():
        assert response.status_code == 401, why
        assert response.json()["error"] == "http_error", why
        assert "x-api-key" in response.json()["detail"], why

    accepted = send({"x-api-key": admin_key})
    assert accepted.status_code == 200
    flags = accepted.json() if method == "GET" else [accepted.json()]
    assert {"feature": PAYMENTS_FEATURE, "enabled": True, "percentage": 100} in flags


def test_a_key_is_stored_only_as_its_hash(db, admin_key: str):
    rows = [row[0] for row in db.execute("SELECT t::text FROM api_keys t").fetchall()]

    assert rows
    assert not any(admin_key in row for row in rows)
    assert not any(admin_key.removeprefix("glk_") in row for row in rows)
    assert db.execute("SELECT count(*) FROM api_keys WHERE key_hash = %s", (hash_key(admin_key),)).fetchone()[0] == 1


# -- the rollout flag -------------------------------------------------------------------------------


def test_a_partial_rollout_admits_payers_by_their_bucket(service: RunningService, sim, rollout, db, admin_key):
    flag = rollout(enabled=True, percentage=10)
    assert flag == {"feature": PAYMENTS_FEATURE, "enabled": True, "percentage": 10}
    inside, outside = _payers(10, 2, admitted=True), _payers(10, 3, admitted=False)

    for number in outside:
        refused = service.pay(number)
        assert refused.status_code == 503, number
        assert refused.json()["error"] == "payments_not_available"
        assert int(refused.headers["Retry-After"]) > 0
    assert sim.pushes() == []

    for number in inside:
        assert service.pay(number).status_code == 202, number
    assert sorted(_pushed_numbers(sim)) == sorted(msisdn(number) for number in inside)

    by = db.execute("SELECT updated_by FROM feature_flags WHERE feature = %s", (PAYMENTS_FEATURE,)).fetchone()[0]
    name = db.execute("SELECT name FROM api_keys WHERE key_hash = %s", (hash_key(admin_key),)).fetchone()[0]
    assert by == name


def test_bucketing_is_deterministic_and_raising_the_percentage_only_adds_payers(service: RunningService, sim, rollout):
    rollout(enabled=True, percentage=10)
    at_10 = _payers(10, 2, admitted=True)
    between = _payers(50, 40, admitted=True)  # some below 10, most in [10, 50)
    between = [number for number in between if bucket(PAYMENTS_FEATURE, msisdn(number)) >= 10][:2]
    above_50 = _payers(50, 2, admitted=False)

    # The same payer gets the same answer every time (a new Idempotency-Key each time).
    first = {number: service.pay(number).status_code for number in at_10 + between}
    again = {number: service.pay(number).status_code for number in at_10 + between}
    assert first == again
    assert {first[number] for number in at_10} == {202}
    assert {first[number] for number in between} == {503}

    rollout(enabled=True, percentage=50)
    assert {service.pay(number).status_code for number in at_10} == {202}
    assert {service.pay(number).status_code for number in between} == {202}
    assert {service.pay(number).status_code for number in above_50} == {503}


def test_disabling_keeps_the_percentage_and_refuses_everyone(service: RunningService, sim, rollout, db):
    rollout(enabled=True, percentage=30)
    flag = rollout(enabled=False)

    assert flag == {"feature": PAYMENTS_FEATURE, "enabled": False, "percentage": 30}
    row = db.execute("SELECT enabled, percentage FROM feature_flags WHERE feature = %s", (PAYMENTS_FEATURE,)).fetchone()
    assert row == (False, 30)
    for number in _payers(30, 2, admitted=True) + _payers(30, 1, admitted=False):
        refused = service.pay(number)
        assert refused.status_code == 503
        assert refused.json()["error"] == "payments_not_available"
    assert sim.pushes() == []

    assert rollout(enabled=True) == {"feature": PAYMENTS_FEATURE, "enabled": True, "percentage": 30}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"feature": PAYMENTS_FEATURE, "enabled": True, "percentage": 101}, "percentage"),
        ({"feature": PAYMENTS_FEATURE, "enabled": True, "percentage": -1}, "percentage"),
        ({"feature": "Bad-Name!", "enabled": True, "percentage": 10}, "feature"),
        ({"feature": "", "enabled": True}, "feature"),
        ({"feature": PAYMENTS_FEATURE, "enabled": "maybe"}, "enabled"),
        ({"feature": PAYMENTS_FEATURE}, "enabled"),
        ({"feature": PAYMENTS_FEATURE, "enabled": True, "colour": "red"}, "colour"),
    ],
)
def test_invalid_flag_updates_are_422_naming_the_field(service: RunningService, admin_key, db, body, field):
    snapshot = "SELECT feature, enabled, percentage, updated_at FROM feature_flags ORDER BY 1"
    before = db.execute(snapshot).fetchall()
    response = service.http.post(FLAGS, json=body, headers={"x-api-key": admin_key})

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert field in [problem["field"] for problem in response.json()["problems"]]
    assert field in response.json()["detail"]
    assert db.execute(snapshot).fetchall() == before


# -- the admin CLI ----------------------------------------------------------------------------------


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("GOLIVE_")}
    return subprocess.run(
        [sys.executable, "-m", "app.admin", *args],
        cwd=REPO_ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_cli_creates_lists_and_revokes_keys(service: RunningService, db_url: str, tmp_path: Path):
    env = {"GOLIVE_DATABASE_URL": db_url, "GOLIVE_ENV": "test", "GOLIVE_STATE_DIR": str(tmp_path)}
    name = f"ops-{uuid.uuid4().hex[:8]}"

    created = _cli("create-key", name, env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("glk_")
    assert service.http.get(FLAGS, headers={"x-api-key": key}).status_code == 200

    duplicate = _cli("create-key", name, env=env)
    assert duplicate.returncode == 1
    assert name in duplicate.stderr
    assert "exists" in duplicate.stderr
    assert "glk_" not in duplicate.stdout + duplicate.stderr

    listed = _cli("list-keys", env=env)
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if line.startswith(name + "\t"))
    assert line.endswith("active")
    assert "glk_" not in listed.stdout
    assert key.removeprefix("glk_") not in listed.stdout

    revoked = _cli("revoke-key", name, env=env)
    assert revoked.returncode == 0, revoked.stderr
    assert service.http.get(FLAGS, headers={"x-api-key": key}).status_code == 401
    again = _cli("revoke-key", name, env=env)
    assert again.returncode == 1
    assert name in again.stderr

    listed = _cli("list-keys", env=env)
    line = next(line for line in listed.stdout.splitlines() if line.startswith(name + "\t"))
    assert "revoked" in line
    assert "glk_" not in listed.stdout


def test_the_cli_without_a_database_url_says_so(tmp_path: Path):
    result = _cli("list-keys", env={"GOLIVE_ENV": "test", "GOLIVE_STATE_DIR": str(tmp_path)})

    assert result.returncode == 1
    assert "GOLIVE_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr
