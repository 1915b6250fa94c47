import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.phone import InvalidPhone, mask_msisdn, normalise_msisdn

subscriber_numbers = st.from_regex(r"[71][0-9]{8}", fullmatch=True)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0708374149", "254708374149"),
        ("0112345678", "254112345678"),
        ("+254708374149", "254708374149"),
        ("+254112345678", "254112345678"),
        ("254708374149", "254708374149"),
        ("254112345678", "254112345678"),
        ("708374149", "254708374149"),
        ("112345678", "254112345678"),
        ("  0708374149\n", "254708374149"),
        ("0708 374 149", "254708374149"),
        ("+254 708-374-149", "254708374149"),
        ("(0708) 374.149", "254708374149"),
        ("(+254) 708 374 149", "254708374149"),
    ],
)
def test_normalise_accepts_kenyan_mobile_forms(raw, expected):
    assert normalise_msisdn(raw) == expected


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "empty"),
        ("  ( ) - ", "empty"),
        ("07083741490", "got 11 digits"),
        ("070837414", "got 9 digits"),
        ("25470837414", "got 11 digits"),
        ("2547083741490", "got 13 digits"),
        ("07O8374149", "only contain digits"),
        ("0708374149x", "only contain digits"),
        ("07083\uff174149", "only contain digits"),  # full-width 7: not ASCII
        ("0708\t374149", "only contain digits"),
        ("0708+374149", "only contain digits"),
        ("++254708374149", "only contain digits"),
        ("+255708374149", "only country code accepted is +254"),
        ("+0708374149", "only country code accepted is +254"),
        ("+708374149", "only country code accepted is +254"),
        ("+2547083741", "got 10 digits"),
        ("254012345678", "7 or 1"),
        ("0201234567", "7 or 1"),
        ("801234567", "7 or 1"),
        ("255708374149", "got 12 digits"),
    ],
)
def test_normalise_rejects_with_a_message_naming_the_problem(raw, problem):
    with pytest.raises(InvalidPhone, match="phone number") as caught:
        normalise_msisdn(raw)
    assert problem in str(caught.value)


@pytest.mark.parametrize("raw", [None, 254708374149, b"0708374149", ["0708374149"]])
def test_normalise_rejects_non_strings(raw):
    with pytest.raises(InvalidPhone, match="must be a string"):
        normalise_msisdn(raw)


def test_invalid_phone_is_a_value_error():
    assert issubclass(InvalidPhone, ValueError)


@given(subscriber=subscriber_numbers)
def test_every_accepted_form_normalises_to_the_same_msisdn(subscriber):
    expected = "254" + subscriber
    spaced = f"{subscriber[:3]} {subscriber[3:6]} {subscriber[6:]}"
    for form in (subscriber, "0" + subscriber, "254" + subscriber, "+254" + subscriber, f"+254 {spaced}"):
        assert normalise_msisdn(form) == expected


@given(raw=st.text(max_size=30))
def test_normalise_either_returns_an_msisdn_or_raises_invalid_phone_without_the_input(raw):
    try:
        msisdn = normalise_msisdn(raw)
    except InvalidPhone as error:
        digits = "".join(char for char in raw if char.isascii() and char.isdigit())
        if len(digits) >= 9:
            assert digits not in str(error)
    else:
        assert len(msisdn) == 12
        assert msisdn.isascii()
        assert msisdn.isdigit()
        assert msisdn.startswith(("2547", "2541"))


@given(subscriber=subscriber_numbers)
def test_rejection_message_never_carries_the_number(subscriber):
    too_long = "0" + subscriber + "9"
    with pytest.raises(InvalidPhone) as caught:
        normalise_msisdn(too_long)
    assert subscriber not in str(caught.value)


def test_mask_keeps_first_six_and_last_three_digits():
    assert mask_msisdn("254708374149") == "254708***149"


@pytest.mark.parametrize("value", ["", "0708374149", "2547083741490", "25470837414x", "254 70837414"])
def test_mask_turns_anything_else_into_stars_of_the_same_length(value):
    assert mask_msisdn(value) == "*" * len(value)


@given(subscriber=subscriber_numbers)
def test_mask_hides_the_middle_digits(subscriber):
    msisdn = "254" + subscriber
    masked = mask_msisdn(msisdn)
    assert masked == msisdn[:6] + "***" + msisdn[9:]
    assert msisdn not in masked
