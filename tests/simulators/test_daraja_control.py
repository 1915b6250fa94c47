"""The /__sim__ control API: config, records, pushes, reset, and unknown Daraja paths."""

import time

import pytest
from daraja_harness import CALLBACK_DELAY, CONSUMER_KEY, CONSUMER_SECRET, assert_daraja_error

DEFAULT_CONFIG = {
    "spike_arrest": False,
    "force_invalid_token": False,
    "response_delay": 0.0,
    "drop_push_answer": False,
    "callback_delay": CALLBACK_DELAY,
    "token_ttl": 3599,
    "invalidate_previous_token": True,
    "expires_in_as_number": False,
    "flaky_query_share": 0.0,
    "pending_query_answer": "random",
    "outcomes": {},
    "amount_outcomes": {},
}


def test_health(daraja):
    assert daraja.control("health") == {"status": "ok"}


def test_config_starts_from_the_command_line(daraja):
    config = daraja.control("config")
    assert config == DEFAULT_CONFIG
    assert type(config["token_ttl"]) is int  # a whole --token-ttl stays whole


def test_config_update_is_partial_and_returns_the_new_config(daraja):
    updated = daraja.configure(spike_arrest=True, outcomes={"254712345678": "1032"}, flaky_query_share=1)
    assert updated == {
        **DEFAULT_CONFIG,
        "spike_arrest": True,
        "outcomes": {"254712345678": "1032"},
        "flaky_query_share": 1,
    }
    assert daraja.control("config") == updated
    assert daraja.configure(outcomes={})["outcomes"] == {}


@pytest.mark.parametrize(
    ("update", "key"),
    [
        ({"no_such_switch": True}, "no_such_switch"),
        ({"spike_arrest": "yes"}, "spike_arrest"),
        ({"force_invalid_token": 1}, "force_invalid_token"),
        ({"drop_push_answer": None}, "drop_push_answer"),
        ({"invalidate_previous_token": "false"}, "invalidate_previous_token"),
        ({"expires_in_as_number": 0}, "expires_in_as_number"),
        ({"response_delay": -1}, "response_delay"),
        ({"response_delay": "1"}, "response_delay"),
        ({"callback_delay": True}, "callback_delay"),
        ({"callback_delay": -0.1}, "callback_delay"),
        ({"token_ttl": 0}, "token_ttl"),
        ({"flaky_query_share": 1.5}, "flaky_query_share"),
        ({"flaky_query_share": -0.1}, "flaky_query_share"),
        ({"pending_query_answer": "sometimes"}, "pending_query_answer"),
        ({"outcomes": ["254712345678"]}, "outcomes"),
        ({"outcomes": {"0712345678": "0"}}, "outcomes"),
        ({"outcomes": {"254712345678": 1032}}, "outcomes"),
        ({"outcomes": {"254712345678": "cancelled"}}, "outcomes"),
        ({"amount_outcomes": {"ten": "1"}}, "amount_outcomes"),
        ({"amount_outcomes": {"100": "-1"}}, "amount_outcomes"),
        ({"spike_arrest": True, "token_ttl": -5}, "token_ttl"),
    ],
    ids=repr,
)
def test_bad_config_update_is_400_naming_the_key_and_changes_nothing(daraja, update, key):
    response = daraja.http.post("/__sim__/config", json=update)
    assert response.status_code == 400
    assert response.json()["key"] == key
    assert key in response.json()["error"]
    assert daraja.control("config") == DEFAULT_CONFIG


@pytest.mark.parametrize("body", [b"{oops", b"[]", b'"spike_arrest"'], ids=repr)
def test_config_body_must_be_a_json_object(daraja, body):
    response = daraja.http.post("/__sim__/config", content=body)
    assert response.status_code == 400
    assert response.json()["key"] == "body"


def test_requests_are_recorded_in_order_with_status_and_body(daraja):
    token = daraja.token()
    answer = daraja.accepted_push(token=token)
    daraja.push(body="not json", token=token)
    daraja.query(answer["CheckoutRequestID"], token=token)
    records = daraja.control("requests")
    assert [(r["method"], r["path"], r["status"]) for r in records] == [
        ("GET", "/oauth/v1/generate", 200),
        ("POST", "/mpesa/stkpush/v1/processrequest", 200),
        ("POST", "/mpesa/stkpush/v1/processrequest", 400),
        ("POST", "/mpesa/stkpushquery/v1/query", records[3]["status"]),
    ]
    oauth, push, bad_push, _query = records
    assert oauth["query"] == "grant_type=client_credentials"
    assert oauth["body"] is None
    assert oauth["headers"]["authorization"] == "Basic <redacted>"
    assert push["headers"]["authorization"] == f"Bearer {token}"
    assert push["body"]["PhoneNumber"] == "254712345678"
    assert bad_push["body"] == "not json"
    assert all(r["received_at"].endswith("Z") for r in records)
    assert CONSUMER_KEY not in str(records)
    assert CONSUMER_SECRET not in str(records)


def test_requests_can_be_filtered_by_path(daraja):
    daraja.accepted_push()
    daraja.accepted_push()
    pushes = daraja.control("requests", path="/mpesa/stkpush/v1/processrequest")
    assert len(pushes) == 2
    assert {r["path"] for r in pushes} == {"/mpesa/stkpush/v1/processrequest"}
    assert daraja.control("requests", path="/nowhere") == []


def test_pushes_list_what_was_accepted(daraja):
    daraja.configure(amount_outcomes={"321": "1019"})
    answer = daraja.accepted_push(phone="254712345600", Amount="321", callback_url="http://127.0.0.1:9/cb/x")
    [push] = daraja.control("pushes")
    assert push["checkout_request_id"] == answer["CheckoutRequestID"]
    assert push["merchant_request_id"] == answer["MerchantRequestID"]
    assert push["msisdn"] == "254712345600"
    assert push["amount"] == 321
    assert push["outcome"] == "1019"
    assert push["result_code"] == 1019
    assert push["callback_url"] == "http://127.0.0.1:9/cb/x"
    assert push["receipt_number"] is None
    assert push["accepted_at"] < push["settles_at"] == push["callback_at"]


def test_reset_restores_config_and_clears_records_tokens_and_pending_callbacks(daraja, receiver):
    token = daraja.token()
    daraja.configure(callback_delay=0.3, spike_arrest=False, flaky_query_share=0.5)
    url = receiver.new_url()
    daraja.accepted_push(callback_url=url, token=token)
    daraja.reset()
    assert daraja.control("config") == DEFAULT_CONFIG
    assert daraja.control("requests") == []
    assert daraja.control("pushes") == []
    time.sleep(0.5)
    assert receiver.received(url) == []
    assert daraja.control("callbacks") == []
    assert_daraja_error(daraja.push(token=token), 404, "404.001.03")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/mpesa/stkpush/v1/processrequest"),
        ("POST", "/oauth/v1/generate"),
        ("POST", "/mpesa/b2c/v1/paymentrequest"),
        ("GET", "/"),
    ],
)
def test_unknown_daraja_resource_is_404_001_01_and_recorded(daraja, method, path):
    response = daraja.http.request(method, path)
    assert_daraja_error(response, 404, "404.001.01", "Resource not found")
    [record] = daraja.control("requests")
    assert (record["method"], record["path"], record["status"]) == (method, path, 404)
