"""Bad payment requests get a 422 that names the problem, and never reach Daraja."""

from __future__ import annotations

import pytest

from tests.support.service import RunningService, phone


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("phone", "0812345678", "phone"),
        ("phone", "+255712345678", "phone"),
        ("phone", "07123", "phone"),
        ("wallet_address", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "checksum"),
        ("wallet_address", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", "checksum"),
        ("wallet_address", "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0x"),
        ("wallet_address", "0x0000000000000000000000000000000000000000", "zero"),
    ],
)
def test_invalid_fields_are_named(service: RunningService, sim, field, value, says):
    body = {"phone": phone(), "package_id": "usdt-10", "wallet_address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}
    body[field] = value
    response = service.http.post("/api/payments", json=body, headers={"Idempotency-Key": "validation-" + field})

    assert response.status_code == 422
    answer = response.json()
    assert answer["problems"][0]["field"] == field
    assert says in answer["detail"].lower()
    assert value not in response.text  # the client's input is not echoed back (it may be a phone number)
    assert sim.pushes() == []


def test_unknown_package_is_refused_with_a_pointer(service: RunningService, sim):
    response = service.pay(phone(), package_id="usdt-7")
    assert response.status_code == 422
    assert "GET /api/packages" in response.json()["detail"]
    assert sim.pushes() == []


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"phone": 712}'])
def test_malformed_bodies_are_refused(service: RunningService, sim, body):
    response = service.http.post(
        "/api/payments", content=body, headers={"Idempotency-Key": "malformed-body", "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"]


def test_packages_are_listed_with_prices(service: RunningService):
    packages = service.http.get("/api/packages").json()
    assert {"id": "usdt-10", "name": "10 USDT", "price_kes": 1300, "usdt_amount": "10.000000"} in packages
