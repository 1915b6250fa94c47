"""OAuth: issuing tokens, rejecting bad credentials, invalidation, expiry, and the token switches."""

import base64
import time

import pytest
from daraja_harness import CONSUMER_KEY, CONSUMER_SECRET, DarajaClient, assert_daraja_error, basic_auth


def token_is_accepted(daraja: DarajaClient, token: str) -> bool:
    """A query for an unknown id gets past the token check only with a valid token."""
    response = daraja.query("ws_CO_unknown", token=token)
    if response.status_code == 404:
        assert_daraja_error(response, 404, "404.001.03", "Invalid Access Token")
        return False
    assert_daraja_error(response, 400, "400.002.02", "Bad Request - Invalid CheckoutRequestID")
    return True


def test_token_has_expires_in_as_a_string_by_default(daraja):
    response = daraja.generate_token()
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in"}
    assert body["expires_in"] == "3599"
    assert body["access_token"].isalnum()
    assert token_is_accepted(daraja, body["access_token"])


def test_expires_in_can_be_a_number(daraja):
    daraja.configure(expires_in_as_number=True, token_ttl=120)
    assert daraja.generate_token().json()["expires_in"] == 120


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("", id="missing"),
        pytest.param("Bearer abc", id="not-basic"),
        pytest.param("Basic", id="basic-without-credentials"),
        pytest.param("Basic !!!not-base64!!!", id="not-base64"),
        pytest.param("Basic " + base64.b64encode(b"no-colon").decode(), id="no-colon"),
        pytest.param(basic_auth(key="wrong"), id="wrong-key"),
        pytest.param(basic_auth(secret="wrong"), id="wrong-secret"),
        pytest.param(basic_auth(key=CONSUMER_SECRET, secret=CONSUMER_KEY), id="swapped"),
    ],
)
def test_bad_basic_auth_is_400_008_01(daraja, authorization):
    response = daraja.http.get(
        "/oauth/v1/generate",
        params={"grant_type": "client_credentials"},
        headers={"Authorization": authorization} if authorization else {},
    )
    assert_daraja_error(response, 400, "400.008.01")


@pytest.mark.parametrize("grant_type", ["password", "", None])
def test_wrong_grant_type_is_400_008_02(daraja, grant_type):
    assert_daraja_error(daraja.generate_token(grant_type=grant_type), 400, "400.008.02")


def test_new_token_invalidates_the_previous_one(daraja):
    first = daraja.token()
    second = daraja.token()
    assert first != second
    assert not token_is_accepted(daraja, first)
    assert token_is_accepted(daraja, second)


def test_previous_tokens_stay_valid_when_invalidation_is_off(daraja):
    daraja.configure(invalidate_previous_token=False)
    first = daraja.token()
    second = daraja.token()
    assert token_is_accepted(daraja, first)
    assert token_is_accepted(daraja, second)


def test_token_expires_after_its_ttl(daraja):
    daraja.configure(token_ttl=0.3, invalidate_previous_token=False)
    response = daraja.generate_token()
    assert response.json()["expires_in"] == "1"  # whole seconds, rounded up
    token = response.json()["access_token"]
    assert token_is_accepted(daraja, token)
    time.sleep(0.4)
    assert not token_is_accepted(daraja, token)


@pytest.mark.parametrize("authorization", ["", "Bearer", "Bearer not-a-token", basic_auth(), "Token abc"], ids=repr)
def test_api_calls_without_a_valid_bearer_token_are_404_001_03(daraja, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    for path in ("/mpesa/stkpush/v1/processrequest", "/mpesa/stkpushquery/v1/query"):
        response = daraja.http.post(path, json={}, headers=headers)
        assert_daraja_error(response, 404, "404.001.03", "Invalid Access Token")


def test_force_invalid_token_rejects_every_api_call_but_still_issues_tokens(daraja):
    token = daraja.token()
    daraja.configure(force_invalid_token=True)
    assert_daraja_error(daraja.push(token=token), 404, "404.001.03")
    assert_daraja_error(daraja.query("ws_CO_x", token=token), 404, "404.001.03")
    fresh = daraja.token()
    assert_daraja_error(daraja.push(token=fresh), 404, "404.001.03")
    daraja.configure(force_invalid_token=False)
    assert token_is_accepted(daraja, fresh)


def test_spike_arrest_rejects_every_daraja_call_but_not_the_control_api(daraja):
    token = daraja.token()
    daraja.configure(spike_arrest=True)
    busy = "System is busy. Please try again in few minutes."
    assert_daraja_error(daraja.generate_token(), 500, "500.003.02", busy)
    assert_daraja_error(daraja.push(token=token), 500, "500.003.02", busy)
    assert_daraja_error(daraja.query("ws_CO_x", token=token), 500, "500.003.02", busy)
    assert daraja.control("health") == {"status": "ok"}
    assert daraja.control("pushes") == []
    daraja.configure(spike_arrest=False)
    assert daraja.accepted_push()["ResponseCode"] == "0"
