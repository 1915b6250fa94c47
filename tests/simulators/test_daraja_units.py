"""The simulator's pure parts, checked without a server."""

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.daraja.clock import NAIROBI, daraja_timestamp, parse_daraja_timestamp
from simulators.daraja.config import ConfigError, SimConfig
from simulators.daraja.errors import DarajaError
from simulators.daraja.ids import IdGenerator
from simulators.daraja.outcomes import Delivery, choose_outcome, delivery_for, is_valid_outcome
from simulators.daraja.tokens import TokenStore
from simulators.daraja.validation import _amount


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_store_expiry_and_invalidation():
    clock = FakeClock()
    tokens = TokenStore(clock)
    tokens.issue("a", 10, invalidate_previous=True)
    tokens.issue("b", 10, invalidate_previous=False)
    assert tokens.is_valid("a") and tokens.is_valid("b")
    tokens.issue("c", 10, invalidate_previous=True)
    assert not tokens.is_valid("a") and not tokens.is_valid("b") and tokens.is_valid("c")
    clock.now += 10
    assert not tokens.is_valid("c")
    assert not tokens.is_valid("never-issued")


@pytest.mark.parametrize(
    ("msisdn", "amount", "outcomes", "amount_outcomes", "expected"),
    [
        ("254712345600", 10, {}, {}, "0"),
        ("254712345644", 10, {}, {}, "0"),
        ("254712345690", 10, {}, {}, "no_callback"),
        ("254708374149", 10, {}, {}, "1037"),
        ("254708374149", 10, {}, {"10": "0"}, "0"),
        ("254712345601", 10, {"254712345601": "0"}, {}, "0"),
        ("254712345600", 10, {"254712345600": "2001"}, {"10": "1"}, "2001"),
        ("254712345600", 10, {}, {"10": "late_callback"}, "late_callback"),
    ],
)
def test_choose_outcome_precedence(msisdn, amount, outcomes, amount_outcomes, expected):
    assert choose_outcome(msisdn, amount, outcomes, amount_outcomes) == expected


def test_delivery_for_each_kind_of_outcome():
    assert delivery_for("0") == Delivery(result_code=0, callback_count=1, delay_factor=1)
    assert delivery_for("5555") == Delivery(result_code=5555, callback_count=1, delay_factor=1)
    assert delivery_for("no_callback") == Delivery(result_code=0, callback_count=0, delay_factor=1)
    assert delivery_for("duplicate_callback") == Delivery(result_code=0, callback_count=2, delay_factor=1)
    assert delivery_for("late_callback") == Delivery(result_code=0, callback_count=1, delay_factor=10)


@pytest.mark.parametrize("outcome", ["0", "1032", "5555", "no_callback", "late_callback"])
def test_valid_outcomes(outcome):
    assert is_valid_outcome(outcome)


@pytest.mark.parametrize("outcome", [0, "", "-1", "1.5", "cancelled", "1" * 10, None])
def test_invalid_outcomes(outcome):
    assert not is_valid_outcome(outcome)


def test_ids_have_daraja_formats_and_never_repeat():
    ids = IdGenerator()
    now = datetime(2024, 3, 1, 9, 30, 5, tzinfo=UTC)
    checkout_ids = {ids.checkout_request_id(now) for _ in range(2000)}
    assert len(checkout_ids) == 2000
    assert all(re.fullmatch(r"ws_CO_01032024123005\d{10}", c) for c in checkout_ids)
    receipts = {ids.receipt_number() for _ in range(2000)}
    assert len(receipts) == 2000
    assert all(re.fullmatch(r"[A-Z][A-Z0-9]{9}", r) for r in receipts)
    assert re.fullmatch(r"\d{5}-\d{8}-1", ids.merchant_request_id())
    assert ids.access_token().isalnum()


def test_timestamps_are_nairobi_time():
    moment = datetime(2024, 12, 31, 22, 0, 0, tzinfo=UTC)
    assert daraja_timestamp(moment) == "20250101010000"
    assert parse_daraja_timestamp("20250101010000") == moment.astimezone(NAIROBI)


@pytest.mark.parametrize("text", ["20240230120000", "2024010112000", "202401011200000", "2024-01-01T12:00", ""])
def test_bad_timestamps_name_no_moment(text):
    assert parse_daraja_timestamp(text) is None


def test_config_update_is_all_or_nothing():
    config = SimConfig()
    with pytest.raises(ConfigError) as raised:
        config.updated({"spike_arrest": True, "callback_delay": "soon"})
    assert raised.value.key == "callback_delay"
    assert config.updated({"spike_arrest": True}).spike_arrest
    assert not config.spike_arrest


@given(st.integers(min_value=1, max_value=250_000))
def test_every_whole_amount_in_range_is_accepted_in_any_encoding(amount):
    for encoded in (amount, float(amount), str(amount)):
        assert _amount({"Amount": encoded}) == amount


@pytest.mark.parametrize(
    "value", ["\u0661\u0660\u0660", "\uff11\uff10\uff10", "100 ", " 100", "+100", "0100.5", "100.", ".5"]
)
def test_amount_text_must_be_plain_ascii_decimal(value):
    # Arabic-Indic and full-width digits count as digits to Python, not to Daraja.
    with pytest.raises(DarajaError):
        _amount({"Amount": value})


@given(
    st.one_of(
        st.integers(max_value=0),
        st.integers(min_value=250_001),
        st.floats().filter(lambda x: not x.is_integer()),
        st.text().filter(lambda s: not re.fullmatch(r"[0-9]+(\.[0-9]+)?", s)),
    )
)
def test_amounts_outside_the_rules_are_rejected(value):
    with pytest.raises(DarajaError) as raised:
        _amount({"Amount": value})
    assert raised.value.error_message == "Bad Request - Invalid Amount"
