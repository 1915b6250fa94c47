"""Result callbacks: the outcome each default scenario produces, the body and headers, timing,
overrides, and delivery failures (sent once, never retried)."""

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from daraja_harness import CALLBACK_DELAY, NAIROBI, SHORTCODE

SUCCESS_DESC = "The service request is processed successfully."

# PhoneNumber -> (ResultCode, number of callbacks)
DEFAULT_SCENARIOS = [
    ("254712345600", 0, 1),
    ("254712345601", 1, 1),
    ("254712345617", 17, 1),
    ("254712345610", 1001, 1),
    ("254712345619", 1019, 1),
    ("254712345620", 2001, 1),
    ("254712345632", 1032, 1),
    ("254712345637", 1037, 1),
    ("254712345691", 0, 2),
    ("254712345655", 0, 1),
    ("254112345643", 0, 1),
    ("254708374149", 1037, 1),  # the sandbox's test MSISDN never answers
]

FAILURE_DESCRIPTIONS = {
    1: "The balance is insufficient for the transaction.",
    1032: "Request cancelled by user",
    1037: "DS timeout user cannot be reached",
    2001: "The initiator information is invalid.",
}


def stk_callback(callback) -> dict:
    assert set(callback.body) == {"Body"}
    assert set(callback.body["Body"]) == {"stkCallback"}
    return callback.body["Body"]["stkCallback"]


def items_by_name(stk: dict) -> dict:
    return {item["Name"]: item for item in stk["CallbackMetadata"]["Item"]}


@pytest.mark.parametrize(("phone", "result_code", "count"), DEFAULT_SCENARIOS)
def test_default_scenario_sends_the_expected_result(daraja, receiver, phone, result_code, count):
    url = receiver.new_url()
    answer = daraja.accepted_push(phone=phone, callback_url=url, Amount=250)
    callbacks = receiver.wait_for(url, count)
    time.sleep(CALLBACK_DELAY * 2)
    assert len(receiver.received(url)) == count
    assert all(callback.body == callbacks[0].body for callback in callbacks)
    stk = stk_callback(callbacks[0])
    assert stk["MerchantRequestID"] == answer["MerchantRequestID"]
    assert stk["CheckoutRequestID"] == answer["CheckoutRequestID"]
    assert type(stk["ResultCode"]) is int
    assert stk["ResultCode"] == result_code
    if result_code == 0:
        assert stk["ResultDesc"] == SUCCESS_DESC
        items = items_by_name(stk)
        assert set(items) == {"Amount", "MpesaReceiptNumber", "Balance", "TransactionDate", "PhoneNumber"}
        assert items["Amount"]["Value"] == 250.0
        assert type(items["Amount"]["Value"]) is float
        assert re.fullmatch(r"[A-Z0-9]{10}", items["MpesaReceiptNumber"]["Value"])
        assert items["Balance"] == {"Name": "Balance"}
        assert items["PhoneNumber"]["Value"] == int(phone)
        transaction_date = items["TransactionDate"]["Value"]
        assert type(transaction_date) is int
        moment = datetime.strptime(str(transaction_date), "%Y%m%d%H%M%S").replace(tzinfo=NAIROBI)
        assert abs(moment - datetime.now(UTC)) < timedelta(seconds=30)
    else:
        assert "CallbackMetadata" not in stk
        assert stk["ResultDesc"] == FAILURE_DESCRIPTIONS.get(result_code, stk["ResultDesc"])
        assert stk["ResultDesc"]


def test_callback_headers_and_default_source_address(daraja, receiver):
    url = receiver.new_url()
    daraja.accepted_push(callback_url=url)
    [callback] = receiver.wait_for(url)
    assert callback.headers["Businessshortcode"] == SHORTCODE
    assert callback.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert "Authorization" not in callback.headers
    assert callback.peer == "127.0.0.1"


def test_callback_comes_after_the_delay(daraja, receiver):
    url = receiver.new_url()
    started = time.monotonic()
    daraja.accepted_push(callback_url=url)
    [callback] = receiver.wait_for(url)
    assert callback.received_at - started >= CALLBACK_DELAY * 0.9


def test_late_callback_comes_after_ten_times_the_delay(daraja, receiver):
    url = receiver.new_url()
    started = time.monotonic()
    answer = daraja.accepted_push(phone="254712345692", callback_url=url)
    time.sleep(CALLBACK_DELAY * 5)
    assert receiver.received(url) == []
    [callback] = receiver.wait_for(url)
    assert callback.received_at - started >= CALLBACK_DELAY * 10 * 0.9
    stk = stk_callback(callback)
    assert stk["CheckoutRequestID"] == answer["CheckoutRequestID"]
    assert stk["ResultCode"] == 0


def test_no_callback_scenario_sends_nothing_but_the_payment_succeeded(daraja, receiver):
    url = receiver.new_url()
    answer = daraja.accepted_push(phone="254712345690", callback_url=url)
    time.sleep(CALLBACK_DELAY * 5)
    assert receiver.received(url) == []
    assert daraja.control("callbacks") == []
    daraja.configure(pending_query_answer="4999")
    assert daraja.query(answer["CheckoutRequestID"]).json()["ResultCode"] == "0"
    [push] = daraja.control("pushes")
    assert push["outcome"] == "no_callback"
    assert push["callback_at"] is None


def test_receipt_numbers_are_unique(daraja, receiver):
    url = receiver.new_url()
    token = daraja.token()
    for _ in range(20):
        daraja.accepted_push(callback_url=url, token=token)
    callbacks = receiver.wait_for(url, 20)
    receipts = {items_by_name(stk_callback(c))["MpesaReceiptNumber"]["Value"] for c in callbacks}
    assert len(receipts) == 20


@pytest.mark.parametrize(
    ("outcome", "result_code", "description"),
    [
        ("1032", 1032, "Request cancelled by user"),
        ("2028", 2028, "The request is not permitted according to product assignment"),
        ("9999", 9999, "An error occurred while sending a push request"),
        ("5555", 5555, None),
    ],
)
def test_msisdn_override_sets_the_result(daraja, receiver, outcome, result_code, description):
    daraja.configure(outcomes={"254712345600": outcome})
    url = receiver.new_url()
    daraja.accepted_push(phone="254712345600", callback_url=url)
    stk = stk_callback(receiver.wait_for(url)[0])
    assert stk["ResultCode"] == result_code
    assert "CallbackMetadata" not in stk
    if description is not None:
        assert stk["ResultDesc"] == description
    else:
        assert "5555" in stk["ResultDesc"]


def test_amount_override_applies_and_msisdn_override_wins(daraja, receiver):
    daraja.configure(amount_outcomes={"777": "1"}, outcomes={"254712345699": "duplicate_callback"})
    by_amount = receiver.new_url()
    daraja.accepted_push(phone="254712345655", callback_url=by_amount, Amount=777)
    both = receiver.new_url()
    daraja.accepted_push(phone="254712345699", callback_url=both, Amount=777)
    other_amount = receiver.new_url()
    daraja.accepted_push(phone="254712345601", callback_url=other_amount, Amount=778)
    assert stk_callback(receiver.wait_for(by_amount)[0])["ResultCode"] == 1
    assert [stk_callback(c)["ResultCode"] for c in receiver.wait_for(both, 2)] == [0, 0]
    assert stk_callback(receiver.wait_for(other_amount)[0])["ResultCode"] == 1  # the default ending 01


def test_delivery_outcomes_can_be_overridden(daraja, receiver):
    daraja.configure(outcomes={"254712345600": "late_callback"})
    url = receiver.new_url()
    started = time.monotonic()
    daraja.accepted_push(phone="254712345600", callback_url=url)
    [callback] = receiver.wait_for(url)
    assert callback.received_at - started >= CALLBACK_DELAY * 10 * 0.9


def test_callback_delay_from_config_applies_to_new_pushes(daraja, receiver):
    daraja.configure(callback_delay=0.6)
    url = receiver.new_url()
    started = time.monotonic()
    daraja.accepted_push(callback_url=url)
    [callback] = receiver.wait_for(url)
    assert callback.received_at - started >= 0.55


def test_receiver_down_is_recorded_and_not_retried(daraja):
    dead_url = "http://127.0.0.1:9/cb/down"  # port 9 (discard) has no listener on loopback
    answer = daraja.accepted_push(callback_url=dead_url)
    deadline = time.monotonic() + 5
    while not daraja.control("callbacks") and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(CALLBACK_DELAY * 3)
    [record] = daraja.control("callbacks")
    assert record["url"] == dead_url
    assert record["checkout_request_id"] == answer["CheckoutRequestID"]
    assert record["status"] is None
    assert "ConnectError" in record["error"]
    assert record["body"]["Body"]["stkCallback"]["CheckoutRequestID"] == answer["CheckoutRequestID"]
    assert record["sent_at"].endswith("Z")


def test_receiver_5xx_is_recorded_and_not_retried(daraja, receiver):
    receiver.status = 503
    url = receiver.new_url()
    daraja.accepted_push(callback_url=url)
    receiver.wait_for(url)
    time.sleep(CALLBACK_DELAY * 3)
    assert len(receiver.received(url)) == 1
    [record] = daraja.control("callbacks")
    assert record["status"] == 503
    assert record["error"] is None


def test_duplicate_callbacks_are_both_recorded(daraja, receiver):
    url = receiver.new_url()
    daraja.accepted_push(phone="254712345691", callback_url=url)
    receiver.wait_for(url, 2)
    deadline = time.monotonic() + 5
    while len(daraja.control("callbacks")) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    records = daraja.control("callbacks")
    assert [record["status"] for record in records] == [200, 200]
    assert records[0]["body"] == records[1]["body"]


def test_a_slow_receiver_does_not_hold_up_requests(daraja, receiver):
    receiver.answer_after = 1.5
    url = receiver.new_url()
    token = daraja.token()
    daraja.accepted_push(callback_url=url, token=token)
    receiver.wait_for(url)
    started = time.monotonic()
    daraja.accepted_push(callback_url=receiver.new_url(), token=token)
    assert daraja.control("health") == {"status": "ok"}
    assert time.monotonic() - started < 0.5
