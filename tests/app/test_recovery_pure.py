"""The pure parts of recovery: the STK-query backoff schedule, the lease's timing decisions, the sweep registry,
what a query answer does to a payment, a late callback after a query success, and which manual resolutions are
allowed."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.mpesa.callback_parse import StkCallback
from app.mpesa.client import QueryAnswer
from app.payments.callback_decision import APPLIED, CONFLICT, DUPLICATE, IGNORED, decide
from app.payments.model import Payment
from app.payments.query_decision import decide_query
from app.recovery.backoff import Backoff
from app.recovery.resolve import ResolveRefused, _target
from app.settings import SettingsError, load_settings
from app.worker.lease_timing import heartbeat_interval, still_leader, valid_until
from app.worker.registry import SWEEPS, RegistryError, resolve

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
PAYMENT = Payment(
    id=uuid.uuid4(), idempotency_key="k" * 10, request_fingerprint="f", msisdn="254708374100", package_id="usdt-10",
    amount_kes=1300, wallet_address="0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", state="submitted",
    needs_review=False, merchant_request_id="m", checkout_request_id="ws_CO_1", mpesa_receipt=None, result_code=None,
    result_desc=None, failure_reason=None, retryable=False, submitted_at=NOW, settled_at=None, created_at=NOW,
    updated_at=NOW,
)  # fmt: skip
BACKOFF = Backoff(initial=15, factor=2, maximum=300, deadline=1800)


# -- backoff ------------------------------------------------------------------------------------------------------
def test_the_backoff_doubles_up_to_the_cap():
    assert [BACKOFF.delay(n) for n in range(1, 8)] == [15, 30, 60, 120, 240, 300, 300]
    assert BACKOFF.delay(10_000) == 300  # no float overflow however long it goes on


def test_the_next_query_is_never_after_the_deadline():
    assert BACKOFF.next_query_at(NOW, 1, NOW + timedelta(seconds=60)) == NOW + timedelta(seconds=75)
    late = NOW + timedelta(seconds=1700)
    assert BACKOFF.next_query_at(NOW, 6, late) == NOW + timedelta(seconds=1800)
    assert not BACKOFF.past_deadline(NOW, NOW + timedelta(seconds=1799))
    assert BACKOFF.past_deadline(NOW, NOW + timedelta(seconds=1800))


def test_queries_count_from_one():
    with pytest.raises(ValueError, match="counts from 1"):
        BACKOFF.delay(0)


def test_the_schedule_comes_from_settings(tmp_path):
    settings = load_settings(env="test", state_dir=tmp_path, recovery_query_backoff_initial_seconds=5,
                             recovery_query_backoff_factor=3, recovery_query_backoff_max_seconds=40)  # fmt: skip
    assert [Backoff.from_settings(settings).delay(n) for n in (1, 2, 3, 4)] == [5, 15, 40, 40]


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"recovery_query_deadline_seconds": 30}, "DEADLINE_SECONDS must be longer"),
        ({"recovery_query_backoff_max_seconds": 1}, "BACKOFF_MAX_SECONDS must be at least"),
        ({"worker_lease_ttl_seconds": 0.5}, "GOLIVE_WORKER_LEASE_TTL_SECONDS"),
        ({"worker_tick_seconds": 0}, "GOLIVE_WORKER_TICK_SECONDS"),
        ({"worker_batch_size": 0}, "GOLIVE_WORKER_BATCH_SIZE"),
        ({"recovery_query_backoff_factor": 0.5}, "GOLIVE_RECOVERY_QUERY_BACKOFF_FACTOR"),
    ],
)
def test_bad_recovery_settings_are_named(tmp_path, overrides, problem):
    with pytest.raises(SettingsError, match=problem):
        load_settings(env="test", state_dir=tmp_path, **overrides)


# -- lease timing -------------------------------------------------------------------------------------------------
def test_the_lease_is_renewed_three_times_per_lifetime():
    assert heartbeat_interval(6) == 2


def test_belief_in_the_lease_ends_ttl_after_the_statement_was_sent():
    assert valid_until(100.0, 6) == 106.0


@pytest.mark.parametrize(
    ("renewed", "now", "until", "leader"),
    [
        (True, 105.0, 106.0, True),
        (False, 101.0, 106.0, False),  # refused: another worker holds it, stop at once
        (None, 105.9, 106.0, True),  # the database is silent: only while the belief lasts
        (None, 106.0, 106.0, False),
    ],
)
def test_after_a_renewal_attempt(renewed, now, until, leader):
    assert still_leader(renewed, now, until) is leader


# -- registry -----------------------------------------------------------------------------------------------------
def test_every_registered_sweep_loads():
    assert [sweep.name for sweep in resolve()] == [name for name, _ in SWEEPS]


@pytest.mark.parametrize(
    ("entries", "only", "problem"),
    [
        ([("a", "app.worker.sweeps.census:sweep"), ("a", "app.worker.sweeps.cases:sweep")], (), "registered twice"),
        ([("a", "app.worker.sweeps.census:sweep")], ("b",), "no such sweep: b"),
        ([("Bad-Name", "app.worker.sweeps.census:sweep")], (), "lower-case"),
        ([("a", "app.worker.sweeps.census")], (), "not 'module:function'"),
        ([("a", "app.nowhere:sweep")], (), "cannot load app.nowhere:sweep"),
        ([("a", "app.worker.sweeps.census:clear")], (), "not an async function"),
    ],
)
def test_a_bad_registry_entry_is_refused_at_start_up(entries, only, problem):
    with pytest.raises(RegistryError, match=problem):
        resolve(entries, only)


# -- query answers ------------------------------------------------------------------------------------------------
def test_a_query_success_pays_without_a_receipt():
    decision = decide_query(PAYMENT, QueryAnswer("0", "The service request is processed successfully."))
    assert (decision.status, decision.to_state) == (APPLIED, "paid")
    assert "mpesa_receipt" not in decision.fields and decision.fields["result_code"] == 0
    assert "STK query" in decision.reason


@pytest.mark.parametrize(("code", "state"), [("1032", "failed"), (" 1037 ", "failed"), ("5555", "unknown")])
def test_other_answers_follow_the_callback_rules(code, state):
    decision = decide_query(PAYMENT, QueryAnswer(code, "desc"))
    assert (decision.status, decision.to_state) == (APPLIED, state)
    assert decision.reason.endswith("(STK query)") or "needs review" in decision.reason


def test_a_query_never_downgrades_a_paid_payment():
    paid = replace(PAYMENT, state="paid", result_code=0, mpesa_receipt="R1")
    assert decide_query(paid, QueryAnswer("1032", "cancelled")).status == IGNORED
    assert decide_query(paid, QueryAnswer("0", "ok")).status == DUPLICATE
    assert decide_query(replace(paid, state="confirming"), QueryAnswer("1", "x")).status == IGNORED


def test_a_query_success_does_not_clear_a_review_held_after_a_success():
    held = replace(PAYMENT, state="unknown", result_code=0, mpesa_receipt="R1", needs_review=True)
    assert decide_query(held, QueryAnswer("0", "ok")).status == DUPLICATE


def test_an_unreadable_code_goes_to_review_and_a_pending_answer_decides_nothing():
    decision = decide_query(PAYMENT, QueryAnswer("12x", "?"))
    assert (decision.to_state, decision.needs_review, "result_code" in decision.fields) == ("unknown", True, False)
    with pytest.raises(ValueError, match="pending"):
        decide_query(PAYMENT, QueryAnswer(None, "still under processing"))


# -- a late callback after a query success ------------------------------------------------------------------------
def _success(receipt: str, amount: str = "1300") -> StkCallback:
    return StkCallback(merchant_request_id="m", checkout_request_id="ws_CO_1", result_code=0, result_desc="ok",
                       amount=Decimal(amount), receipt=receipt, transaction_date=None, phone=None)  # fmt: skip


def test_a_success_callback_after_a_query_success_records_the_receipt():
    paid_by_query = replace(PAYMENT, state="paid", result_code=0, mpesa_receipt=None)
    decision = decide(paid_by_query, _success("LATE1"))
    assert (decision.status, decision.to_state, decision.allowed_from) == (APPLIED, "paid", ("paid",))
    assert decision.fields == {"mpesa_receipt": "LATE1"}
    assert decide(replace(paid_by_query, state="broadcast"), _success("LATE1")).to_state == "broadcast"


def test_a_late_callback_with_another_amount_is_a_conflict_for_review():
    paid_by_query = replace(PAYMENT, state="paid", result_code=0, mpesa_receipt=None)
    decision = decide(paid_by_query, _success("LATE1", amount="1"))
    assert (decision.status, decision.needs_review) == (CONFLICT, True)


# -- manual resolutions -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("state", "needs_review", "outcome", "to_state"),
    [
        ("unknown", True, "paid", "paid"),
        ("submitted", False, "failed", "failed"),
        ("failed", False, "paid", "paid"),
        ("paid", True, "reviewed", "paid"),
        ("payout_failed", False, "reviewed", "payout_failed"),
    ],
)
def test_allowed_resolutions(state, needs_review, outcome, to_state):
    assert _target(state, needs_review, outcome)[0] == to_state


@pytest.mark.parametrize(
    ("state", "needs_review", "outcome", "problem"),
    [
        ("completed", False, "failed", "never marked failed"),
        ("paid", False, "paid", "already paid"),
        ("failed", False, "failed", "already failed"),
        ("unknown", True, "reviewed", "resolve it as paid or failed"),
        ("completed", False, "reviewed", "nothing to resolve"),
    ],
)
def test_refused_resolutions(state, needs_review, outcome, problem):
    with pytest.raises(ResolveRefused, match=problem) as refused:
        _target(state, needs_review, outcome)
    assert refused.value.status == 409
