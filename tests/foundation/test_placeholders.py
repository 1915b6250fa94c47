"""The rule for a setting nobody filled in: empty or a placeholder is named by its key; real values, secrets that
happen to hold the letters of a marker included, pass."""

from __future__ import annotations

import secrets

import pytest

from foundation.placeholders import problem, unfilled


@pytest.mark.parametrize(
    "value",
    [
        "CHANGE-ME",
        "changeme",
        "Change_Me",
        "https://CHANGE-ME.example",
        "CHANGE-ME.rds.amazonaws.com",
        "CHANGE-ME/32",
        "<your consumer key>",
        "postgresql://golive:<password>@db:5432/golive",
        "TODO",
        "todo",
        "FIXME: the paybill",
        "TBD",
        "xxx",
        "None",
    ],
)
def test_placeholders_are_caught(value):
    assert problem(value) == "a placeholder"


@pytest.mark.parametrize("value", ["", "   ", "\t"])
def test_empty_values_are_caught(value):
    assert problem(value) == "empty"


@pytest.mark.parametrize(
    "value",
    [
        "https://pay.example.com",
        "0xdAC17F958D2ee523a2206206994597C13D831ec7",
        "1",
        "600123",
        "postgresql://golive:s3cret@db.internal:5432/golive?sslmode=verify-full",
        "10.0.1.0/24,10.0.2.0/24",
        "https://todo-list.example.com",  # a lower-case word inside a value is not a marker
        "abcTODOdef",  # nor are capitals inside a word (a random secret)
        "true",
    ],
)
def test_real_values_pass(value):
    assert problem(value) is None


def test_generated_secrets_pass():
    for _ in range(2000):
        assert problem(secrets.token_urlsafe(32)) is None


def test_unfilled_names_every_key_in_order_and_no_value():
    values = {
        "GOLIVE_ENV": "production",
        "GOLIVE_DARAJA_SHORTCODE": "CHANGE-ME",
        "GOLIVE_CHAIN_ID": "",
        "GOLIVE_CALLBACK_SECRET": "a-real-secret-of-forty-characters-000000",
    }
    assert unfilled(values) == ["GOLIVE_DARAJA_SHORTCODE (a placeholder)", "GOLIVE_CHAIN_ID (empty)"]
    assert unfilled({"GOLIVE_ENV": "production"}) == []
