"""Each sweep on the real database against the running Daraja simulator. The service here has a callback URL on
a port nobody listens on, so Daraja's callbacks are lost (as when our receiver is down: Daraja never retries) and
only the STK query can reveal what the payer did."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import psycopg
import pytest

from app.db import migrator
from tests.support import callbacks
from tests.support.processes import free_port, wait_until
from tests.support.service import RunningService, msisdn, phone, start_service
from tests.support.worker import run_sweep, worker_settings

FAST = {"recovery_query_after_seconds": 0, "recovery_query_backoff_initial_seconds": 5}


@pytest.fixture(scope="module")
def rdb(database_factory) -> str:
    url = database_factory("recovery_sweeps")
    migrator.migrate(url)
    return url


@pytest.fixture(scope="module")
def lost_callbacks(rdb, simulator, state_dir):
    running = start_service(rdb, simulator.url, state_dir, public_base_url=f"http://127.0.0.1:{free_port()}")
    yield running
    running.stop()


@pytest.fixture
def rdb_conn(rdb):
    with psycopg.connect(rdb, autocommit=True) as conn:
        yield conn


@pytest.fixture
def settle(rdb, simulator, state_dir):
    """Runs one sweep with the given settings (FAST by default)."""

    def run(name: str, **overrides) -> int:
        return run_sweep(worker_settings(rdb, simulator.url, state_dir, **{**FAST, **overrides}), name)

    return run


def _pay(service: RunningService, ending: str, sim=None, outcome: str | None = None) -> str:
    number = phone(ending)
    if outcome is not None:
        sim.configure(outcomes={msisdn(number): outcome})
    response = service.pay(number)
    assert response.status_code == 202, response.text
    assert response.json()["state"] == "submitted"
    return response.json()["id"]


def _row(conn, payment_id: str, columns: str = "state, needs_review, mpesa_receipt, result_code, stk_queries"):
    return conn.execute(f"SELECT {columns} FROM payments WHERE id = %s", (payment_id,)).fetchone()


def _settled(sim) -> None:
    wait_until(lambda: all(p["callback_at"] is None or p["callback_count"] == 0 or
                           any(c["checkout_request_id"] == p["checkout_request_id"] for c in sim.callbacks())
                           for p in sim.http.get("/__sim__/pushes").json()), "simulator settled")  # fmt: skip


def _events(conn, payment_id: str) -> list[tuple[str, str, str]]:
    rows = conn.execute(
        "SELECT from_state, to_state, reason FROM payment_events WHERE payment_id = %s ORDER BY id", (payment_id,)
    ).fetchall()
    return [tuple(row) for row in rows]


def test_a_lost_success_callback_is_recovered_by_query_and_a_late_callback_brings_the_receipt(
    lost_callbacks, sim, settle, rdb_conn
):
    payment_id = _pay(lost_callbacks, "00")
    _settled(sim)
    assert _row(rdb_conn, payment_id)[0] == "submitted"  # the callback went nowhere

    assert settle("cases") >= 1  # a no_callback case is opened
    assert settle("stk_query") >= 1

    assert _row(rdb_conn, payment_id) == ("paid", False, None, 0, 1)
    assert "paid (STK query)" in _events(rdb_conn, payment_id)[-1][2]
    case = rdb_conn.execute(
        "SELECT kind, resolution, outcome_state, actor FROM recovery_cases WHERE payment_id = %s", (payment_id,)
    ).fetchall()
    assert case == [("no_callback", "recovered", "paid", "worker")]
    queries = [r for r in sim.requests("/mpesa/stkpushquery/v1/query") if r["status"] == 200]
    assert len(queries) == 1

    checkout, settled_at = _row(rdb_conn, payment_id, "checkout_request_id, settled_at")
    late = callbacks.deliver(lost_callbacks, payment_id, callbacks.success(checkout, receipt="LATE000001"))
    assert late.status_code == 200
    wait_until(lambda: _row(rdb_conn, payment_id)[2] == "LATE000001", "receipt recorded")
    assert _row(rdb_conn, payment_id)[:2] == ("paid", False)  # not a conflict, not flagged
    assert _row(rdb_conn, payment_id, "settled_at")[0] == settled_at  # still when it was paid
    assert _events(rdb_conn, payment_id)[-1] == ("paid", "paid", "receipt recorded (paid earlier by STK query)")


def test_a_lost_failure_is_settled_failed_by_query(lost_callbacks, sim, settle, rdb_conn):
    payment_id = _pay(lost_callbacks, "32")
    _settled(sim)
    settle("stk_query")
    state, needs_review, receipt, code, queries = _row(rdb_conn, payment_id)
    assert (state, needs_review, receipt, code, queries) == ("failed", False, None, 1032, 1)
    assert _events(rdb_conn, payment_id)[-1][2] == "failed: cancelled by user (STK query)"
    # Settled in the pass that found it stuck, before the cases sweep opened a case: the recovery is counted anyway.
    case = rdb_conn.execute(
        "SELECT kind, resolution, outcome_state, actor, closed_at - opened_at < interval '1 minute'"
        " FROM recovery_cases WHERE payment_id = %s", (payment_id,),
    ).fetchall()  # fmt: skip
    assert case == [("no_callback", "recovered", "failed", "worker", True)]


def test_an_unrecognised_result_code_by_query_goes_to_review(lost_callbacks, sim, settle, rdb_conn):
    payment_id = _pay(lost_callbacks, "55", sim, outcome="5555")
    _settled(sim)
    settle("stk_query")
    assert _row(rdb_conn, payment_id)[:4] == ("unknown", True, None, 5555)


@pytest.mark.parametrize("pending", ["4999", "error"])
def test_ask_later_answers_back_off_exponentially(lost_callbacks, sim, settle, rdb_conn, pending):
    sim.configure(callback_delay=600, pending_query_answer=pending)
    payment_id = _pay(lost_callbacks, "00")

    settle("stk_query")
    assert _row(rdb_conn, payment_id)[0] == "submitted"
    expected = "pending"
    assert _row(rdb_conn, payment_id, "stk_queries, last_query_result") == (1, expected)
    first_gap = _row(rdb_conn, payment_id, "next_query_at - last_query_at")[0]
    assert timedelta(seconds=4.5) < first_gap < timedelta(seconds=5.5)

    before = len(sim.requests("/mpesa/stkpushquery/v1/query"))
    settle("stk_query")  # not due yet: Daraja is not asked
    assert len(sim.requests("/mpesa/stkpushquery/v1/query")) == before

    rdb_conn.execute("UPDATE payments SET next_query_at = now() WHERE id = %s", (payment_id,))
    settle("stk_query")
    assert _row(rdb_conn, payment_id, "stk_queries")[0] == 2
    second_gap = _row(rdb_conn, payment_id, "next_query_at - last_query_at")[0]
    assert timedelta(seconds=9.5) < second_gap < timedelta(seconds=10.5)  # initial x factor (2)


def test_no_definite_answer_by_the_deadline_means_unknown_with_a_reason(lost_callbacks, sim, settle, rdb_conn):
    sim.configure(callback_delay=600, pending_query_answer="4999")
    payment_id = _pay(lost_callbacks, "00")
    settle("cases")
    rdb_conn.execute("UPDATE payments SET submitted_at = now() - interval '31 minutes' WHERE id = %s", (payment_id,))
    settle("stk_query")  # the last question is still asked, then the payment goes to review

    state, needs_review, _, _, queries = _row(rdb_conn, payment_id)
    assert (state, needs_review, queries) == ("unknown", True, 1)
    reason = _row(rdb_conn, payment_id, "failure_reason")[0]
    assert "no definite STK query answer within 1800 s" in reason and "last answer: pending" in reason
    assert rdb_conn.execute(
        "SELECT kind, resolution, actor FROM recovery_cases WHERE payment_id = %s ORDER BY id", (payment_id,)
    ).fetchall() == [("no_callback", "escalated", "worker")]
    settle("cases")  # the payment is now stuck for review: a new case
    assert rdb_conn.execute(
        "SELECT kind FROM recovery_cases WHERE payment_id = %s AND closed_at IS NULL", (payment_id,)
    ).fetchall() == [("needs_review",)]


def test_a_daraja_outage_is_not_an_answer(lost_callbacks, sim, settle, rdb_conn):
    payment_id = _pay(lost_callbacks, "00")
    _settled(sim)
    sim.configure(spike_arrest=True)
    settle("stk_query")
    assert _row(rdb_conn, payment_id, "state, stk_queries, last_query_result") == (
        "submitted", 1, "error: 500.003.02"
    )  # fmt: skip


def test_a_payment_left_initiated_goes_to_review_and_is_never_pushed_again(lost_callbacks, sim, settle, rdb_conn):
    payment_id = uuid.uuid4()
    rdb_conn.execute(
        """INSERT INTO payments (id, idempotency_key, request_fingerprint, msisdn, package_id, amount_kes,
                                 wallet_address, state, created_at, updated_at)
           VALUES (%s, %s, 'fp', '254700000100', 'usdt-10', 1300, %s, 'initiated',
                   now() - interval '10 minutes', now() - interval '10 minutes')""",
        (payment_id, uuid.uuid4().hex, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
    )
    assert settle("stale_initiated") == 1
    assert _row(rdb_conn, str(payment_id))[:2] == ("unknown", True)
    assert settle("stale_initiated") == 0  # idempotent
    assert rdb_conn.execute(
        "SELECT kind, resolution, outcome_state FROM recovery_cases WHERE payment_id = %s", (payment_id,)
    ).fetchall() == [("push_unanswered", "escalated", "unknown")]
    assert sim.pushes() == []


def test_a_callback_stored_but_never_applied_is_applied(lost_callbacks, sim, settle, rdb_conn):
    sim.configure(callback_delay=600)
    payment_id = _pay(lost_callbacks, "00")
    checkout = _row(rdb_conn, payment_id, "checkout_request_id")[0]
    body = callbacks.success(checkout, receipt="STORED0001")
    rdb_conn.execute(
        "INSERT INTO stk_callbacks (payment_id, body, received_at) VALUES (%s, %s, now() - interval '1 minute')",
        (payment_id, body),
    )
    assert settle("callbacks") >= 1
    assert _row(rdb_conn, payment_id)[:3] == ("paid", False, "STORED0001")
    assert rdb_conn.execute("SELECT status FROM stk_callbacks WHERE payment_id = %s", (payment_id,)).fetchall() == [
        ("applied",)
    ]


def test_a_stored_callback_the_database_cannot_take_does_not_stop_the_sweep(lost_callbacks, sim, settle, rdb_conn):
    """Stored before the parser refused such values: each row on its own, the poisoned ones marked malformed."""
    sim.configure(callback_delay=600)
    poisoned, good = _pay(lost_callbacks, "00"), _pay(lost_callbacks, "00")
    for payment_id, body in (
        (poisoned, callbacks.failure(_row(rdb_conn, poisoned, "checkout_request_id")[0], 1032, "cancelled\x00")),
        (good, callbacks.success(_row(rdb_conn, good, "checkout_request_id")[0], receipt="AFTERBAD01")),
    ):
        rdb_conn.execute(
            "INSERT INTO stk_callbacks (payment_id, body, received_at) VALUES (%s, %s, now() - interval '1 minute')",
            (payment_id, body),
        )

    assert settle("callbacks") >= 2

    statuses = dict(rdb_conn.execute("SELECT payment_id::text, status FROM stk_callbacks WHERE payment_id IN (%s, %s)",
                                     (poisoned, good)).fetchall())  # fmt: skip
    assert (statuses[poisoned], statuses[good]) == ("malformed", "applied")
    assert (_row(rdb_conn, poisoned)[0], _row(rdb_conn, good)[0]) == ("submitted", "paid")


def test_the_census_counts_what_the_stuck_list_shows(lost_callbacks, sim, settle, rdb_conn):
    sim.configure(callback_delay=600)
    _pay(lost_callbacks, "00")
    stuck = settle("census")
    total = rdb_conn.execute(
        "SELECT count(*) FROM payments WHERE state IN ('submitted', 'unknown') OR needs_review"
    ).fetchone()[0]
    assert stuck == total


def test_sweep_results_are_json_logged_without_secrets(lost_callbacks, sim, settle, rdb_conn, capfd):
    sim.configure(callback_delay=600)
    _pay(lost_callbacks, "00")
    settle("cases")
    lines = [line for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    for line in lines:
        json.loads(line)
        assert "test-consumer-secret" not in line
