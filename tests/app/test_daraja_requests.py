"""STK request bodies, callback tokens, rollout buckets and Daraja error envelopes (all pure)."""

from __future__ import annotations

import base64
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest

from app.flags.bucketing import Flag, allows, bucket
from app.mpesa.errors import DarajaFailure, classify_envelope
from app.mpesa.stk_request import stk_push_body, stk_query_body, timestamp
from app.payments.callback_token import callback_token, callback_url, token_matches
from app.settings import CALLBACK_URL_FORBIDDEN_WORDS, load_settings


@pytest.fixture
def settings(tmp_path):
    return load_settings(env="test", state_dir=tmp_path)


def test_timestamp_is_nairobi_time():
    assert timestamp(datetime(2026, 11, 26, 21, 30, 5, tzinfo=UTC)) == "20261127003005"


def test_push_body_follows_daraja(settings):
    body = stk_push_body(settings, msisdn="254708374100", amount_kes=1300, callback_url="https://x/cb",
                         now=datetime(2026, 11, 26, 7, 0, 0, tzinfo=UTC))  # fmt: skip
    assert body["Timestamp"] == "20261126100000"
    decoded = base64.b64decode(body["Password"]).decode()
    assert decoded == "174379" + settings.daraja_passkey.get_secret_value() + "20261126100000"
    assert (body["PartyA"], body["PhoneNumber"], body["PartyB"]) == ("254708374100", "254708374100", "174379")
    assert body["Amount"] == 1300 and isinstance(body["Amount"], int)
    assert len(str(body["AccountReference"])) <= 12 and len(str(body["TransactionDesc"])) <= 13


def test_query_body(settings):
    body = stk_query_body(settings, checkout_request_id="ws_CO_1", now=datetime.now(UTC))
    assert set(body) == {"BusinessShortCode", "Password", "Timestamp", "CheckoutRequestID"}


def test_buy_goods_pays_the_till(tmp_path):
    settings = load_settings(env="test", state_dir=tmp_path, daraja_transaction_type="CustomerBuyGoodsOnline",
                             daraja_party_b="5432101")  # fmt: skip
    body = stk_push_body(settings, msisdn="254708374100", amount_kes=1, callback_url="https://x", now=datetime.now(UTC))
    assert (body["TransactionType"], body["PartyB"]) == ("CustomerBuyGoodsOnline", "5432101")


def test_callback_token_is_bound_to_the_payment():
    first, second = uuid.uuid4(), uuid.uuid4()
    token = callback_token("s" * 40, first)
    assert token_matches("s" * 40, first, token)
    assert not token_matches("s" * 40, second, token)
    assert not token_matches("t" * 40, first, token)


@pytest.mark.parametrize("presented", ["é" * 40, "é", "", "A" * 40, "0" * 39, "0" * 40 + "\n", "0" * 41])
def test_a_token_of_the_wrong_shape_never_matches_and_never_raises(presented):
    assert not token_matches("s" * 40, uuid.uuid4(), presented)


def test_callback_url_avoids_the_words_daraja_rejects():
    for _ in range(200):
        url = callback_url("https://pay.example.com", "secret-" * 6, uuid.uuid4()).lower()
        assert not any(word in url for word in CALLBACK_URL_FORBIDDEN_WORDS)


def test_buckets_are_deterministic_and_roughly_uniform():
    payers = [f"2547{n:08d}" for n in range(5000)]
    assert [bucket("mpesa_payments", p) for p in payers[:50]] == [bucket("mpesa_payments", p) for p in payers[:50]]
    per_decile = Counter(bucket("mpesa_payments", p) // 10 for p in payers)
    assert all(400 <= count <= 600 for count in per_decile.values())


def test_raising_a_percentage_only_adds_payers():
    payers = [f"2547{n:08d}" for n in range(2000)]
    at_10 = {p for p in payers if allows(Flag("mpesa_payments", True, 10), p)}
    at_50 = {p for p in payers if allows(Flag("mpesa_payments", True, 50), p)}
    assert at_10 < at_50
    assert 100 <= len(at_10) <= 300
    assert not any(allows(Flag("mpesa_payments", False, 100), p) for p in payers)
    assert not allows(None, payers[0])


@pytest.mark.parametrize(
    ("code", "failure"),
    [
        ("404.001.03", DarajaFailure.INVALID_TOKEN),
        ("500.003.02", DarajaFailure.RATE_LIMITED),
        ("500.003.03", DarajaFailure.RATE_LIMITED),
        ("400.008.01", DarajaFailure.CREDENTIALS),
        ("500.001.1001", DarajaFailure.CREDENTIALS),
        ("400.002.02", DarajaFailure.REJECTED),
        ("404.001.01", DarajaFailure.REJECTED),
        ("500.003.1001", DarajaFailure.OUTCOME_UNKNOWN),
    ],
)
def test_error_envelopes_mean_what_daraja_md_says(code, failure):
    assert classify_envelope(code) is failure
