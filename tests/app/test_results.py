import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.mpesa.results import ResultClass, classify_result, is_processing_error, parse_result_code

# daraja.md, "Result codes".
FAILED_FINAL = [1, 2, 3, 4, 8, 1019, 1032, 1037, 2001]
FAILED_RETRYABLE = [17, 1001, 1025, 9999]
KNOWN = {0, 4999, 2028, *FAILED_FINAL, *FAILED_RETRYABLE}


def test_zero_is_paid():
    result = classify_result(0)
    assert result.outcome == "paid"
    assert not result.retryable
    assert not result.config_error


@pytest.mark.parametrize("code", FAILED_FINAL)
def test_final_failures(code):
    result = classify_result(code)
    assert result.outcome == "failed"
    assert not result.retryable
    assert not result.config_error


@pytest.mark.parametrize("code", FAILED_RETRYABLE)
def test_retryable_failures(code):
    result = classify_result(code)
    assert result.outcome == "failed"
    assert result.retryable
    assert not result.config_error


def test_rule_limited_says_to_wait_two_minutes():
    assert "2 minutes" in classify_result(17).reason


def test_wrong_transaction_type_is_a_configuration_error():
    result = classify_result(2028)
    assert result.outcome == "failed"
    assert result.config_error
    assert not result.retryable


def test_still_processing_is_pending():
    result = classify_result(4999)
    assert result.outcome == "pending"
    assert not result.retryable


@pytest.mark.parametrize(
    ("code", "reason"),
    [(1, "insufficient balance"), (1032, "cancelled by user"), (2001, "wrong PIN"), (1019, "expired")],
)
def test_reason_is_short_human_text(code, reason):
    assert reason in classify_result(code).reason


@pytest.mark.parametrize(
    ("code", "outcome"),
    [("0", "paid"), (" 1032 ", "failed"), ("4999", "pending"), ("2028\n", "failed"), ("17", "failed")],
)
def test_numeric_strings_classify_like_ints(code, outcome):
    assert classify_result(code).outcome == outcome
    assert classify_result(code) == classify_result(int(code))


@pytest.mark.parametrize(
    "code",
    [
        5, 1031, 1036, 4998, -1, 10**30,
        True, False, None, 0.0, 1032.0, [0], {"code": 0},
        "", " ", "abc", "0.5", "0.0", "1e3", "00", "+0", "-0", "1_032", "0x0",
        "\uff10", "\u0660",  # full-width and Arabic-Indic zero: int() would read them as 0
        "1" * 5000,
    ],
)  # fmt: skip
def test_anything_else_is_unknown_never_paid_or_failed(code):
    result = classify_result(code)
    assert result.outcome == "unknown"
    assert not result.retryable
    assert not result.config_error
    assert result.reason


@given(code=st.integers())
def test_classification_of_any_int_follows_the_table(code):
    outcome = classify_result(code).outcome
    if code == 0:
        assert outcome == "paid"
    elif code == 4999:
        assert outcome == "pending"
    elif code in KNOWN:
        assert outcome == "failed"
    else:
        assert outcome == "unknown"


@given(code=st.text(max_size=20))
def test_any_string_classifies_without_error_and_only_canonical_zero_is_paid(code):
    result = classify_result(code)
    assert isinstance(result, ResultClass)
    if result.outcome == "paid":
        assert code.strip() == "0"


def test_result_class_is_immutable():
    with pytest.raises(AttributeError):
        classify_result(0).outcome = "failed"  # type: ignore[misc]


def test_parse_result_code():
    assert parse_result_code(1032) == 1032
    assert parse_result_code(" 1032 ") == 1032
    assert parse_result_code("-1") == -1
    assert parse_result_code(True) is None
    assert parse_result_code("1032.0") is None
    assert parse_result_code(None) is None


@pytest.mark.parametrize("error_code", ["500.001.1001", " 500.001.1001 "])
def test_being_processed_error_means_ask_again(error_code):
    assert is_processing_error(error_code)


@pytest.mark.parametrize("error_code", ["500.003.1001", "500.001.100", "404.001.03", "", "4999", None, 5000011001])
def test_other_errors_are_not_processing_errors(error_code):
    assert not is_processing_error(error_code)
