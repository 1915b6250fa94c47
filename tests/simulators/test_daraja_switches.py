"""The "Daraja slow" and "answer lost" switches: response_delay and drop_push_answer."""

import time

import httpx
from daraja_harness import CALLBACK_DELAY


def test_response_delay_slows_every_daraja_answer(daraja):
    daraja.configure(response_delay=0.4)
    started = time.monotonic()
    token = daraja.token()
    assert time.monotonic() - started >= 0.38
    started = time.monotonic()
    assert daraja.push(token=token).status_code == 200
    assert time.monotonic() - started >= 0.38
    started = time.monotonic()
    daraja.control("health")
    assert time.monotonic() - started < 0.3


def test_push_whose_answer_the_client_gave_up_on_still_gets_its_callback(daraja, receiver):
    token = daraja.token()
    daraja.configure(response_delay=1.0)
    url = receiver.new_url()
    body = daraja.push_body(callback_url=url)
    try:
        daraja.http.post(
            "/mpesa/stkpush/v1/processrequest",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=0.3,
        )
        raise AssertionError("the client should have timed out")
    except httpx.ReadTimeout:
        pass
    [callback] = receiver.wait_for(url)
    [push] = daraja.control("pushes")
    assert callback.body["Body"]["stkCallback"]["CheckoutRequestID"] == push["checkout_request_id"]


def test_dropped_push_answer_is_a_502_html_page_but_the_push_goes_ahead(daraja, receiver):
    daraja.configure(drop_push_answer=True)
    url = receiver.new_url()
    response = daraja.push(callback_url=url)
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "CheckoutRequestID" not in response.text
    [callback] = receiver.wait_for(url)
    [push] = daraja.control("pushes")
    assert callback.body["Body"]["stkCallback"]["CheckoutRequestID"] == push["checkout_request_id"]
    [record] = daraja.control("requests", path="/mpesa/stkpush/v1/processrequest")
    assert record["status"] == 502


def test_dropped_answer_waits_for_the_response_delay(daraja, receiver):
    token = daraja.token()
    daraja.configure(drop_push_answer=True, response_delay=CALLBACK_DELAY * 3)
    url = receiver.new_url()
    started = time.monotonic()
    response = daraja.push(callback_url=url, token=token)
    assert response.status_code == 502
    assert time.monotonic() - started >= CALLBACK_DELAY * 3 * 0.95
    assert len(receiver.received(url)) == 1  # the callback beat the (lost) answer


def test_drop_push_answer_leaves_rejected_pushes_alone(daraja):
    daraja.configure(drop_push_answer=True)
    assert daraja.push(Amount=0).status_code == 400
    assert daraja.control("pushes") == []
