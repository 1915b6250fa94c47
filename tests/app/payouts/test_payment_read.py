"""A payment being paid out reads like any other: GET /api/payments/{id} knows every payout state."""

from __future__ import annotations

import pytest

from tests.support.service import phone


@pytest.mark.parametrize("state", ["payout_pending", "broadcast", "confirming", "completed", "payout_failed"])
def test_a_payment_in_a_payout_state_reads(service, sim, db, state):
    created = service.pay(phone("90"))
    assert created.status_code == 202, created.text
    db.execute("UPDATE payments SET state = %s WHERE id = %s", (state, created.json()["id"]))
    answer = service.http.get(f"/api/payments/{created.json()['id']}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == state
