"""STK push: accepted requests, every field rule, and the Password check."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from daraja_harness import MISSING, assert_daraja_error, daraja_password, daraja_timestamp

FIELDS = (
    "BusinessShortCode",
    "Password",
    "Timestamp",
    "TransactionType",
    "Amount",
    "PartyA",
    "PartyB",
    "PhoneNumber",
    "CallBackURL",
    "AccountReference",
    "TransactionDesc",
)

BAD_VALUES = [
    ("BusinessShortCode", "1234"),
    ("BusinessShortCode", "12345678"),
    ("BusinessShortCode", "17437a"),
    ("BusinessShortCode", "600000"),  # well-formed, but not the configured shortcode
    ("BusinessShortCode", True),
    ("BusinessShortCode", 174379.0),
    ("Password", ""),
    ("Password", 12345),
    ("Timestamp", "2024-01-01 10:00:00"),
    ("Timestamp", "20240230120000"),  # 30 February
    ("Timestamp", "2024010110000"),
    ("Timestamp", None),
    ("TransactionType", "CustomerPayBill"),
    ("TransactionType", "customerpaybillonline"),
    ("TransactionType", 1),
    ("Amount", 0),
    ("Amount", -5),
    ("Amount", 250001),
    ("Amount", 10.5),
    ("Amount", "10.5"),
    ("Amount", "1e3"),
    ("Amount", "ten"),
    ("Amount", ""),
    ("Amount", True),
    ("Amount", None),
    ("PartyA", "0712345678"),
    ("PartyA", "254812345678"),
    ("PartyA", "25471234567"),
    ("PartyA", "2547123456789"),
    ("PartyA", "+254712345678"),
    ("PartyB", "1234"),
    ("PartyB", "12345678"),
    ("PartyB", "abcde"),
    ("PhoneNumber", "254612345678"),
    ("PhoneNumber", 25471234567),
    ("PhoneNumber", "254 712345678"),
    ("CallBackURL", "127.0.0.1:9/cb"),
    ("CallBackURL", "/cb/relative"),
    ("CallBackURL", "ftp://127.0.0.1/cb"),
    ("CallBackURL", "http:///cb"),
    ("CallBackURL", "http://127.0.0.1:99999/cb"),
    ("CallBackURL", "http://127.0.0.1/c b"),
    ("CallBackURL", "https://example.com/mpesa/callback"),
    ("CallBackURL", "https://example.com/MPESA"),
    ("CallBackURL", "https://safaricom.example.com/cb"),
    ("CallBackURL", "https://example.com/cb?query=1"),
    ("CallBackURL", "https://example.com/cb.exe"),
    ("CallBackURL", "https://example.com/Exec/cb"),
    ("CallBackURL", "https://example.com/cmd"),
    ("CallBackURL", "https://example.com/SQL/cb"),
    ("CallBackURL", 42),
    ("AccountReference", ""),
    ("AccountReference", "ABCDEFGHIJKLM"),  # 13 characters
    ("AccountReference", "ORDER-42"),
    ("AccountReference", "ORDER 42"),
    ("AccountReference", 42),
    ("TransactionDesc", ""),
    ("TransactionDesc", "Fourteen chars"),
    ("TransactionDesc", "Pay; drop"),
    ("TransactionDesc", "Pay & go"),
    ("TransactionDesc", None),
]


def test_accepted_push_answers_with_unique_ids(daraja):
    token = daraja.token()
    answers = [daraja.push(token=token).json() for _ in range(5)]
    for answer in answers:
        assert answer == {
            "MerchantRequestID": answer["MerchantRequestID"],
            "CheckoutRequestID": answer["CheckoutRequestID"],
            "ResponseCode": "0",
            "ResponseDescription": "Success. Request accepted for processing",
            "CustomerMessage": "Success. Request accepted for processing",
        }
        assert re.fullmatch(r"\d{5}-\d{8}-\d", answer["MerchantRequestID"])
        assert re.fullmatch(r"ws_CO_\d{14}\d{10}", answer["CheckoutRequestID"])
    assert len({answer["CheckoutRequestID"] for answer in answers}) == 5
    assert len({answer["MerchantRequestID"] for answer in answers}) == 5


@pytest.mark.parametrize(
    "overrides",
    [
        {"BusinessShortCode": 174379, "PartyA": 254712345678, "PhoneNumber": 254712345678, "PartyB": 174379},
        {"Amount": "250000"},
        {"Amount": 1},
        {"Amount": 100.0},
        {"Amount": "100.00"},
        {"TransactionType": "CustomerBuyGoodsOnline", "PartyB": "5123456"},
        {"PartyA": "254112345678", "PhoneNumber": "254112345678"},
        {"CallBackURL": "https://pay.example.com/callbacks/3f9a/secret-token"},
        {"CallBackURL": "http://[::1]:8000/cb"},
        {"AccountReference": "ABCDEFGHIJKL"},
        {"TransactionDesc": "Thirteen char"},
    ],
    ids=repr,
)
def test_valid_variants_are_accepted(daraja, overrides):
    assert daraja.accepted_push(**overrides)["ResponseCode"] == "0"


@pytest.mark.parametrize(("field", "value"), BAD_VALUES, ids=[f"{f}={v!r}" for f, v in BAD_VALUES])
def test_bad_field_is_400_002_02_naming_it(daraja, field, value):
    response = daraja.push(**{field: value})
    assert_daraja_error(response, 400, "400.002.02", f"Bad Request - Invalid {field}")


@pytest.mark.parametrize("field", FIELDS)
def test_missing_field_is_400_002_02_naming_it(daraja, field):
    assert_daraja_error(daraja.push(**{field: MISSING}), 400, "400.002.02", f"Bad Request - Invalid {field}")


@pytest.mark.parametrize(
    ("label", "moment"),
    [
        ("two hours ahead", datetime.now(UTC) + timedelta(hours=2)),
        ("two hours behind", datetime.now(UTC) - timedelta(hours=2)),
    ],
)
def test_timestamp_must_be_within_an_hour_of_now(daraja, label, moment):
    timestamp = daraja_timestamp(moment)
    response = daraja.push(Timestamp=timestamp, Password=daraja_password(timestamp))
    assert_daraja_error(response, 400, "400.002.02", "Bad Request - Invalid Timestamp")


def test_timestamp_in_utc_instead_of_nairobi_time_is_rejected(daraja):
    timestamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")  # three hours behind Nairobi
    response = daraja.push(Timestamp=timestamp, Password=daraja_password(timestamp))
    assert_daraja_error(response, 400, "400.002.02", "Bad Request - Invalid Timestamp")


def test_timestamp_within_the_hour_is_accepted(daraja):
    timestamp = daraja_timestamp(datetime.now(UTC) - timedelta(minutes=50))
    assert daraja.accepted_push(Timestamp=timestamp, Password=daraja_password(timestamp))


@pytest.mark.parametrize(
    "password",
    [
        pytest.param(daraja_password(daraja_timestamp(), passkey="wrong-passkey"), id="wrong-passkey"),
        pytest.param(daraja_password("20200101000000"), id="other-timestamp"),
        pytest.param("bm90IHRoZSBwYXNzd29yZA==", id="garbage"),
    ],
)
def test_wrong_password_is_500_001_1001(daraja, password):
    assert_daraja_error(daraja.push(Password=password), 500, "500.001.1001", "Merchant does not exist")


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '"text"', ""], ids=repr)
def test_malformed_body_is_400_002_02_naming_the_body(daraja, body):
    assert_daraja_error(daraja.push(body=body), 400, "400.002.02", "Bad Request - Invalid Body")


def test_rejected_pushes_are_not_accepted(daraja):
    daraja.push(Amount=0)
    daraja.push(Password="wrong")
    assert daraja.control("pushes") == []
