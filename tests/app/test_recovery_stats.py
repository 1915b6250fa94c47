"""GET /api/admin/recovery/stats after a known history, written straight into a fresh database: counts by state,
stuck items and the oldest one's age, recoveries in the last hour and day, and the mean time to recover."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from app.db import migrator
from tests.support.service import new_admin_key, start_service

WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


@pytest.fixture(scope="module")
def history(database_factory, simulator, state_dir):
    url = database_factory("recovery_stats")
    migrator.migrate(url)
    with psycopg.connect(url, autocommit=True) as conn:

        def payment(state: str, age: str, needs_review: bool = False) -> uuid.UUID:
            payment_id = uuid.uuid4()
            conn.execute(
                f"""INSERT INTO payments (id, idempotency_key, request_fingerprint, msisdn, package_id, amount_kes,
                        wallet_address, state, needs_review, submitted_at, created_at, updated_at)
                    VALUES (%s, %s, 'fp', '254700000100', 'usdt-10', 1300, %s, %s, %s,
                            now() - interval '{age}', now() - interval '{age}', now() - interval '{age}')""",
                (payment_id, uuid.uuid4().hex, WALLET, state, needs_review),
            )
            return payment_id

        def case(payment_id, kind: str, opened: str, closed: str | None, resolution: str | None) -> None:
            closed_sql = f"now() - interval '{closed}'" if closed else "NULL"
            conn.execute(
                f"""INSERT INTO recovery_cases (payment_id, kind, opened_at, closed_at, resolution, actor)
                    VALUES (%s, %s, now() - interval '{opened}', {closed_sql}, %s, 'test')""",
                (payment_id, kind, resolution),
            )

        paid_a = payment("paid", "40 minutes")  # recovered 30 min ago after 120 s
        case(paid_a, "no_callback", "32 minutes", "30 minutes", "recovered")
        paid_b = payment("failed", "6 hours")  # resolved by a person 5 h ago after 600 s
        case(paid_b, "needs_review", "5 hours 10 minutes", "5 hours", "resolved")
        old = payment("failed", "3 days")  # recovered two days ago: outside the day
        case(old, "no_callback", "2 days 1 hour", "2 days", "recovered")
        unknown = payment("unknown", "2 hours", needs_review=True)  # escalated 2 h ago, a review case open
        case(unknown, "no_callback", "2 hours 30 minutes", "2 hours", "escalated")
        case(unknown, "needs_review", "2 hours", None, None)
        payment("submitted", "90 seconds")  # no callback after 60 s: stuck, not yet in a case
        payment("submitted", "10 seconds")  # not stuck yet
    service = start_service(url, simulator.url, state_dir)
    yield service, new_admin_key(url)
    service.stop()


def test_stats_after_a_known_history(history):
    service, key = history
    response = service.http.get("/api/admin/recovery/stats", headers={"x-api-key": key})
    assert response.status_code == 200, response.text
    stats = response.json()
    assert stats["payments_by_state"] == {"failed": 2, "paid": 1, "submitted": 2, "unknown": 1}
    assert stats["needs_review"] == 1
    # paid 40 minutes ago and no payout started (GOLIVE_RECOVERY_PAYOUT_STUCK_SECONDS = 600) counts too
    assert stats["stuck_by_reason"] == {"needs_review": 1, "no_callback": 1, "payout_not_started": 1}
    assert stats["stuck_total"] == 3
    assert 7190 <= stats["oldest_stuck_age_seconds"] <= 7260  # the unknown one, two hours in that state
    assert stats["open_cases"] == 1
    assert stats["recovered_last_hour"] == 1
    assert stats["recovered_last_day"] == 2
    assert stats["resolved_by_people_last_day"] == 1
    assert stats["escalated_last_day"] == 1
    assert stats["mean_time_to_recover_seconds"] == pytest.approx((120 + 600) / 2, abs=1)


def test_stats_need_an_admin_key(history):
    service, _ = history
    assert service.http.get("/api/admin/recovery/stats").status_code == 401
