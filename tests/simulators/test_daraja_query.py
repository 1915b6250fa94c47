"""STK query: in flight, settled, flaky, and its own field checks."""

import time

import pytest
from daraja_harness import CALLBACK_DELAY, MISSING, assert_daraja_error, daraja_password

QUERY_ACCEPTED = "The service request has been accepted successsfully"
PROCESSING_MESSAGES = {"The transaction is being processed", ""}


def assert_being_processed(response) -> None:
    assert response.status_code == 500, response.text
    body = response.json()
    assert set(body) == {"requestId", "errorCode", "errorMessage"}
    assert body["errorCode"] == "500.001.1001"
    assert body["errorMessage"] in PROCESSING_MESSAGES


def assert_result(response, answer: dict, result_code: str) -> dict:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {
        "ResponseCode": "0",
        "ResponseDescription": QUERY_ACCEPTED,
        "MerchantRequestID": answer["MerchantRequestID"],
        "CheckoutRequestID": answer["CheckoutRequestID"],
        "ResultCode": result_code,
        "ResultDesc": body["ResultDesc"],
    }
    assert body["ResultDesc"]
    return body


def wait_until_settled() -> None:
    time.sleep(CALLBACK_DELAY * 2)


def test_in_flight_query_answers_4999_or_being_processed_at_random(daraja):
    daraja.configure(callback_delay=30)
    answer = daraja.accepted_push()
    token = daraja.token()
    kinds = set()
    for _ in range(150):  # the empty message comes in 1 of 8 polls
        response = daraja.query(answer["CheckoutRequestID"], token=token)
        if response.status_code == 200:
            body = assert_result(response, answer, "4999")
            assert body["ResultDesc"] == "The transaction is still under processing"
            kinds.add("4999")
        else:
            assert_being_processed(response)
            kinds.add(response.json()["errorMessage"] or "empty message")
    assert kinds == {"4999", "The transaction is being processed", "empty message"}


@pytest.mark.parametrize(("mode", "status"), [("4999", 200), ("error", 500)])
def test_in_flight_answer_can_be_pinned(daraja, mode, status):
    daraja.configure(callback_delay=30, pending_query_answer=mode)
    answer = daraja.accepted_push()
    token = daraja.token()
    for _ in range(10):
        response = daraja.query(answer["CheckoutRequestID"], token=token)
        assert response.status_code == status
        if status == 200:
            assert_result(response, answer, "4999")
        else:
            assert_being_processed(response)


@pytest.mark.parametrize(
    ("phone", "result_code", "description"),
    [
        ("254712345600", "0", "The service request is processed successfully."),
        ("254712345632", "1032", None),
        ("254712345601", "1", None),
        ("254712345691", "0", None),
        ("254708374149", "1037", None),
    ],
)
def test_settled_query_answers_the_result_code_as_a_string(daraja, phone, result_code, description):
    answer = daraja.accepted_push(phone=phone)
    wait_until_settled()
    body = assert_result(daraja.query(answer["CheckoutRequestID"]), answer, result_code)
    if description is not None:
        assert body["ResultDesc"] == description


def test_late_callback_payment_is_settled_for_the_query_before_its_callback(daraja, receiver):
    url = receiver.new_url()
    answer = daraja.accepted_push(phone="254712345692", callback_url=url)
    wait_until_settled()
    assert_result(daraja.query(answer["CheckoutRequestID"]), answer, "0")
    assert receiver.received(url) == []


def test_flaky_share_one_always_answers_being_processed(daraja):
    daraja.configure(flaky_query_share=1.0)
    answer = daraja.accepted_push()
    wait_until_settled()
    token = daraja.token()
    for _ in range(20):
        assert_being_processed(daraja.query(answer["CheckoutRequestID"], token=token))


def test_flaky_share_half_mixes_results_and_errors(daraja):
    daraja.configure(flaky_query_share=0.5)
    answer = daraja.accepted_push()
    wait_until_settled()
    token = daraja.token()
    statuses = {daraja.query(answer["CheckoutRequestID"], token=token).status_code for _ in range(60)}
    assert statuses == {200, 500}


def test_unknown_checkout_request_id(daraja):
    response = daraja.query("ws_CO_000000000000000000000000")
    assert_daraja_error(response, 400, "400.002.02", "Bad Request - Invalid CheckoutRequestID")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"BusinessShortCode": "600000"}, "BusinessShortCode"),
        ({"BusinessShortCode": MISSING}, "BusinessShortCode"),
        ({"Password": MISSING}, "Password"),
        ({"Timestamp": "20200101000000"}, "Timestamp"),
        ({"Timestamp": MISSING}, "Timestamp"),
        ({"CheckoutRequestID": ""}, "CheckoutRequestID"),
        ({"CheckoutRequestID": 12}, "CheckoutRequestID"),
        ({"CheckoutRequestID": MISSING}, "CheckoutRequestID"),
    ],
    ids=repr,
)
def test_bad_query_field_is_400_002_02_naming_it(daraja, overrides, field):
    answer = daraja.accepted_push()
    response = daraja.query(answer["CheckoutRequestID"], **overrides)
    assert_daraja_error(response, 400, "400.002.02", f"Bad Request - Invalid {field}")


def test_query_with_wrong_password_is_500_001_1001(daraja):
    answer = daraja.accepted_push()
    response = daraja.query(answer["CheckoutRequestID"], Password=daraja_password("20200101000000"))
    assert_daraja_error(response, 500, "500.001.1001", "Merchant does not exist")


def test_malformed_query_body(daraja):
    response = daraja.http.post(
        "/mpesa/stkpushquery/v1/query", content=b"{", headers={"Authorization": f"Bearer {daraja.token()}"}
    )
    assert_daraja_error(response, 400, "400.002.02", "Bad Request - Invalid Body")
