import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.mpesa.callback_parse import MAX_ID_LENGTH, MalformedCallback, StkCallback, parse_stk_callback

# daraja.md's example, byte for byte in its shape (Amount 1.00, Balance without a Value).
DOCUMENTED_SUCCESS = (
    b'{"Body":{"stkCallback":{"MerchantRequestID":"29115-34620561-1",'
    b'"CheckoutRequestID":"ws_CO_191220191020363925","ResultCode":0,'
    b'"ResultDesc":"The service request is processed successfully.",'
    b'"CallbackMetadata":{"Item":[{"Name":"Amount","Value":1.00},'
    b'{"Name":"MpesaReceiptNumber","Value":"NLJ7RT61SV"},{"Name":"Balance"},'
    b'{"Name":"TransactionDate","Value":20191219102115},{"Name":"PhoneNumber","Value":254708374149}]}}}}'
)
EAT = timedelta(hours=3)
NAIROBI = timezone(EAT)


def success_items(**overrides):
    values = {
        "Amount": 10,
        "MpesaReceiptNumber": "NLJ7RT61SV",
        "TransactionDate": 20191219102115,
        "PhoneNumber": 254708374149,
    }
    values.update(overrides)
    return [{"Name": name, "Value": value} for name, value in values.items() if value is not ...]


def callback(result_code=0, items=None, **fields):
    stk = {
        "MerchantRequestID": "29115-34620561-1",
        "CheckoutRequestID": "ws_CO_191220191020363925",
        "ResultCode": result_code,
        "ResultDesc": "described",
    }
    if items is not None:
        stk["CallbackMetadata"] = {"Item": items}
    stk.update(fields)
    return {"Body": {"stkCallback": stk}}


def encode(document) -> bytes:
    return json.dumps(document).encode()


def parse(document) -> StkCallback:
    return parse_stk_callback(encode(document))


def test_parses_the_documented_success_callback():
    parsed = parse_stk_callback(DOCUMENTED_SUCCESS)
    assert parsed == StkCallback(
        merchant_request_id="29115-34620561-1",
        checkout_request_id="ws_CO_191220191020363925",
        result_code=0,
        result_desc="The service request is processed successfully.",
        amount=Decimal("1.00"),
        receipt="NLJ7RT61SV",
        transaction_date=datetime(2019, 12, 19, 10, 21, 15, tzinfo=NAIROBI),
        phone="254708374149",
    )


def test_amount_is_an_exact_decimal():
    amount = parse_stk_callback(DOCUMENTED_SUCCESS).amount
    assert isinstance(amount, Decimal)
    assert amount == Decimal("1.00")


def test_transaction_date_is_nairobi_time():
    transaction_date = parse_stk_callback(DOCUMENTED_SUCCESS).transaction_date
    assert transaction_date.utcoffset() == EAT
    assert transaction_date.astimezone(UTC) == datetime(2019, 12, 19, 7, 21, 15, tzinfo=UTC)


def test_failure_callback_has_no_metadata():
    parsed = parse(callback(1032, ResultDesc="Request cancelled by user"))
    assert parsed.result_code == 1032
    assert parsed.result_desc == "Request cancelled by user"
    assert (parsed.amount, parsed.receipt, parsed.transaction_date, parsed.phone) == (None, None, None, None)


@pytest.mark.parametrize(("code", "expected"), [("0", 0), (" 1032 ", 1032), ("1037", 1037), (-1, -1)])
def test_result_code_may_be_a_numeric_string(code, expected):
    items = success_items() if expected == 0 else None
    assert parse(callback(code, items)).result_code == expected


def test_items_are_read_by_name_in_any_order_and_unknown_items_are_ignored():
    items = [*reversed(success_items()), {"Name": "Balance"}, {"Name": "Future", "Value": [1, 2]}]
    parsed = parse(callback(0, items))
    assert parsed.amount == 10
    assert parsed.receipt == "NLJ7RT61SV"
    assert parsed.phone == "254708374149"


def test_unknown_fields_are_ignored_at_every_level():
    document = callback(0, success_items(), NewField={"x": 1})
    document["Extra"] = True
    document["Body"]["Other"] = []
    document["Body"]["stkCallback"]["CallbackMetadata"]["Version"] = 2
    document["Body"]["stkCallback"]["CallbackMetadata"]["Item"][0]["Unit"] = "KES"
    assert parse(document).receipt == "NLJ7RT61SV"


def test_item_with_a_null_value_counts_as_absent():
    parsed = parse(callback(0, success_items(TransactionDate=None, PhoneNumber=None)))
    assert parsed.transaction_date is None
    assert parsed.phone is None


def test_missing_result_desc_is_empty():
    document = callback(1032)
    del document["Body"]["stkCallback"]["ResultDesc"]
    assert parse(document).result_desc == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [(254708374149, "254708374149"), ("0708374149", "254708374149"), ("254112345678", "254112345678")],
)
def test_phone_is_returned_as_twelve_digits(value, expected):
    assert parse(callback(0, success_items(PhoneNumber=value))).phone == expected


@pytest.mark.parametrize("value", ["2547*****149", "e3b0c44298fc1c149afbf4c8996fb924", 12345, True, [254708374149]])
def test_a_masked_or_odd_phone_does_not_make_a_paid_callback_unreadable(value):
    parsed = parse(callback(0, success_items(PhoneNumber=value)))
    assert parsed.phone is None
    assert parsed.receipt == "NLJ7RT61SV"


@pytest.mark.parametrize(
    ("value", "expected"), [(7, Decimal(7)), ("250000", Decimal(250000)), ("1.50", Decimal("1.50"))]
)
def test_amount_may_be_an_int_or_a_numeric_string(value, expected):
    assert parse(callback(0, success_items(Amount=value))).amount == expected


def test_transaction_date_may_be_a_string():
    parsed = parse(callback(0, success_items(TransactionDate="20240229235959")))
    assert parsed.transaction_date == datetime(2024, 2, 29, 23, 59, 59, tzinfo=NAIROBI)


def test_utf8_bom_is_tolerated():
    assert parse_stk_callback(b"\xef\xbb\xbf" + DOCUMENTED_SUCCESS).receipt == "NLJ7RT61SV"


def test_bytearray_is_accepted():
    assert parse_stk_callback(bytearray(DOCUMENTED_SUCCESS)).receipt == "NLJ7RT61SV"


def test_a_str_body_is_a_programming_error():
    with pytest.raises(TypeError, match="must be bytes"):
        parse_stk_callback(DOCUMENTED_SUCCESS.decode())  # type: ignore[arg-type]


def without(document, *path):
    *parents, last = path
    node = document
    for key in parents:
        node = node[key]
    del node[last]
    return document


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"", "body is not JSON"),
        (b"{", "body is not JSON"),
        (b"\xff\xfe{}", "body is not UTF-8"),
        ('{"Body": "é"}'.encode("latin-1"), "body is not UTF-8"),
        (b"[1, 2]", "body is not a JSON object"),
        (b"null", "body is not a JSON object"),
        (b'"Body"', "body is not a JSON object"),
        (b"{}", "missing Body"),
        (b'{"Body": []}', "Body is not a JSON object"),
        (b'{"Body": {}}', "missing Body.stkCallback"),
        (b'{"Body": {"stkCallback": "x"}}', "Body.stkCallback is not a JSON object"),
        (b'{"Body": {"stkCallback": {"ResultCode": NaN}}}', "NaN is not a JSON value"),
        (b'{"Amount": 1e999999999999999999999}', "body is not JSON"),  # beyond what a Decimal can hold
        (b"[" * 100_000 + b"]" * 100_000, "body is not JSON: nested too deeply"),
        (b'{"a": ' + b"1" * 5000 + b"}", "body is not JSON: Exceeds the limit"),
    ],
)
def test_malformed_bodies(raw, problem):
    with pytest.raises(MalformedCallback) as caught:
        parse_stk_callback(raw)
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (callback("abc"), "ResultCode is not an integer: 'abc'"),
        (callback(True), "ResultCode is not an integer: True"),
        (callback(0.0), "ResultCode is not an integer"),
        (callback("0.5"), "ResultCode is not an integer"),
        (callback("00", success_items()), "ResultCode is not an integer"),
        (callback("x" * 500), "ResultCode is not an integer"),
        (without(callback(1032), "Body", "stkCallback", "ResultCode"), "missing ResultCode"),
        (callback(1032, ResultCode=None), "missing ResultCode"),
        (without(callback(1032), "Body", "stkCallback", "CheckoutRequestID"), "CheckoutRequestID is missing"),
        (callback(1032, CheckoutRequestID=""), "CheckoutRequestID is empty"),
        (callback(1032, CheckoutRequestID="  "), "CheckoutRequestID is empty"),
        (callback(1032, CheckoutRequestID=123), "CheckoutRequestID is missing or not a string"),
        (without(callback(1032), "Body", "stkCallback", "MerchantRequestID"), "MerchantRequestID is missing"),
        (callback(1032, ResultDesc=5), "ResultDesc is missing or not a string"),
        (callback(1032, ResultDesc="a\x00b"), "ResultDesc holds a NUL character"),
        (callback(1032, ResultDesc="\udc00"), "ResultDesc holds a lone surrogate"),
        (callback(1032, MerchantRequestID="\x00"), "MerchantRequestID holds a NUL character"),
        (callback(1032, CheckoutRequestID="ws_CO_\x00"), "CheckoutRequestID holds a NUL character"),
        (callback(1032, CheckoutRequestID="w" * 101), "CheckoutRequestID is longer than 100 characters"),
        (callback(1032, MerchantRequestID="m" * 101), "MerchantRequestID is longer than 100 characters"),
        (callback(2**31), "ResultCode is out of range (a 32-bit integer): 2147483648"),
        (callback(-(2**31) - 1), "ResultCode is out of range"),
        (callback("99999999999"), "ResultCode is out of range"),
        (callback(0), "success callback without Amount"),
        (callback(0, success_items(Amount=...)), "success callback without Amount"),
        (callback(0, success_items(MpesaReceiptNumber=...)), "success callback without MpesaReceiptNumber"),
        (callback(0, success_items(MpesaReceiptNumber=None)), "success callback without MpesaReceiptNumber"),
        (callback(0, [{"Name": "Amount", "Value": 1}]), "success callback without MpesaReceiptNumber"),
        (callback(0, success_items(MpesaReceiptNumber="nlj7rt61sv")), "MpesaReceiptNumber must be"),
        (callback(0, success_items(MpesaReceiptNumber="NLJ7-RT61")), "MpesaReceiptNumber must be"),
        (callback(0, success_items(MpesaReceiptNumber="A" * 21)), "MpesaReceiptNumber must be"),
        (callback(0, success_items(MpesaReceiptNumber="")), "MpesaReceiptNumber must be"),
        (callback(0, success_items(MpesaReceiptNumber=12345)), "MpesaReceiptNumber must be"),
        (callback(0, success_items(MpesaReceiptNumber="\uff2eLJ7RT61SV")), "MpesaReceiptNumber must be"),
        (callback(0, success_items(Amount=0)), "Amount is not a positive number"),
        (callback(0, success_items(Amount=-5)), "Amount is not a positive number"),
        (callback(0, success_items(Amount="ten")), "Amount is not a positive number"),
        (callback(0, success_items(Amount="1e3")), "Amount is not a positive number"),
        (callback(0, success_items(Amount=True)), "Amount is not a positive number"),
        (callback(0, success_items(Amount=[1])), "Amount is not a positive number"),
        (
            callback(0, success_items(TransactionDate=20191319102115)),
            "TransactionDate is not a YYYYMMDDHHmmss",
        ),
        (callback(0, success_items(TransactionDate="2019-12-19")), "TransactionDate is not a YYYYMMDDHHmmss"),
        (
            callback(0, success_items(TransactionDate=2019121910211)),
            "TransactionDate is not a YYYYMMDDHHmmss",
        ),
        (
            callback(0, success_items(TransactionDate=20191219246000)),
            "TransactionDate is not a YYYYMMDDHHmmss",
        ),
        (callback(0, success_items(TransactionDate=1.5)), "TransactionDate is not a YYYYMMDDHHmmss"),
        (callback(0, CallbackMetadata=[]), "CallbackMetadata is not a JSON object"),
        (callback(0, CallbackMetadata={}), "CallbackMetadata.Item is missing or not a list"),
        (callback(0, CallbackMetadata={"Item": {"Name": "Amount"}}), "CallbackMetadata.Item is missing"),
        (callback(0, ["Amount"]), "not an object with a Name"),
        (callback(0, [{"Value": 1}]), "not an object with a Name"),
        (callback(0, [{"Name": 1, "Value": 1}]), "not an object with a Name"),
        (callback(0, [*success_items(), {"Name": "Amount", "Value": 99}]), "holds Amount twice"),
    ],
)
def test_malformed_callbacks_name_the_problem(document, problem):
    with pytest.raises(MalformedCallback) as caught:
        parse(document)
    assert problem in str(caught.value)


def test_the_32_bit_bounds_and_a_long_result_desc_are_accepted():
    assert parse(callback(2**31 - 1)).result_code == 2**31 - 1
    assert parse(callback(-(2**31))).result_code == -(2**31)
    assert parse(callback(1032, ResultDesc="d" * 5000, CheckoutRequestID="w" * 100)).result_desc == "d" * 5000


def test_infinite_amount_is_rejected():
    raw = encode(callback(0, success_items(Amount="AMOUNT"))).replace(b'"AMOUNT"', b"Infinity")
    with pytest.raises(MalformedCallback, match="Infinity is not a JSON value"):
        parse_stk_callback(raw)


def test_malformed_callback_is_a_value_error():
    assert issubclass(MalformedCallback, ValueError)


def test_stk_callback_is_immutable():
    with pytest.raises(AttributeError):
        parse_stk_callback(DOCUMENTED_SUCCESS).result_code = 1  # type: ignore[misc]


# Property tests ------------------------------------------------------------------------------------

# Any text, lone surrogates and NUL included (JSON can carry both as \u escapes; the database stores neither).
any_text = st.text(st.characters(exclude_categories=()))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | any_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


def parses_or_is_malformed(raw: bytes) -> None:
    try:
        result = parse_stk_callback(raw)
    except MalformedCallback:
        return
    assert isinstance(result, StkCallback)
    assert_storable(result)


def assert_storable(result: StkCallback) -> None:
    """What parses, the database can store: no NUL, valid UTF-8, a 32-bit result code, ids of bounded length."""
    texts = [result.merchant_request_id, result.checkout_request_id, result.result_desc, result.receipt or ""]
    assert all("\x00" not in text for text in texts)
    for text in texts:
        text.encode("utf-8")
    assert -(2**31) <= result.result_code < 2**31
    assert max(len(result.merchant_request_id), len(result.checkout_request_id)) <= MAX_ID_LENGTH


@given(raw=st.binary(max_size=300))
def test_any_bytes_parse_or_raise_malformed_callback(raw):
    parses_or_is_malformed(raw)


@given(document=json_values)
def test_any_json_value_parses_or_raises_malformed_callback(document):
    parses_or_is_malformed(encode(document))


STK_FIELDS = ["MerchantRequestID", "CheckoutRequestID", "ResultCode", "ResultDesc", "CallbackMetadata"]


@given(field=st.sampled_from(STK_FIELDS), replacement=json_values)
def test_a_valid_callback_with_any_field_replaced_parses_or_raises_malformed_callback(field, replacement):
    document = json.loads(DOCUMENTED_SUCCESS)
    document["Body"]["stkCallback"][field] = replacement
    parses_or_is_malformed(encode(document))


@given(index=st.integers(0, 4), replacement=json_values)
def test_a_valid_callback_with_any_item_value_replaced_parses_or_raises_malformed_callback(index, replacement):
    document = json.loads(DOCUMENTED_SUCCESS)
    document["Body"]["stkCallback"]["CallbackMetadata"]["Item"][index]["Value"] = replacement
    parses_or_is_malformed(encode(document))


def storable_text(**sizes: int) -> st.SearchStrategy[str]:
    return st.text(
        st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), **sizes
    )  # no NUL, no lone surrogate


@st.composite
def valid_success_callbacks(draw):
    """(raw body, expected StkCallback) for a success callback in any of the shapes Daraja may send."""
    amount = draw(
        st.one_of(
            st.integers(1, 250_000).map(Decimal),
            st.decimals(min_value=Decimal("0.01"), max_value=Decimal(250_000), places=2),
        )
    )
    receipt = draw(st.from_regex(r"[A-Z0-9]{1,20}", fullmatch=True))
    moment = draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31))).replace(microsecond=0)
    stamp = moment.strftime("%Y%m%d%H%M%S")
    subscriber = draw(st.from_regex(r"[71][0-9]{8}", fullmatch=True))
    checkout_request_id = draw(storable_text(min_size=1, max_size=30).filter(str.strip))
    items = [
        {"Name": "Amount", "Value": "__AMOUNT__"},
        {"Name": "MpesaReceiptNumber", "Value": receipt},
        {"Name": "TransactionDate", "Value": draw(st.sampled_from([int(stamp), stamp]))},
        {
            "Name": "PhoneNumber",
            "Value": draw(st.sampled_from([int("254" + subscriber), "254" + subscriber])),
        },
        {"Name": "Balance"},
        *draw(
            st.lists(
                st.builds(
                    lambda name, value: {"Name": name, "Value": value},
                    st.text(max_size=8).filter(
                        lambda name: name not in {"Amount", "MpesaReceiptNumber", "TransactionDate", "PhoneNumber"}
                    ),
                    json_values,
                ),
                max_size=3,
            )
        ),
    ]
    document = callback(
        draw(st.sampled_from([0, "0", " 0 "])),
        draw(st.permutations(items)),
        CheckoutRequestID=checkout_request_id,
        MerchantRequestID=draw(storable_text(max_size=30)),
        ResultDesc=draw(storable_text(max_size=30)),
    )
    # json.dumps cannot write a Decimal: put the number's text in place of the placeholder string.
    raw = encode(document).replace(b'"__AMOUNT__"', str(amount).encode())
    stk = document["Body"]["stkCallback"]
    expected = StkCallback(
        merchant_request_id=stk["MerchantRequestID"],
        checkout_request_id=checkout_request_id,
        result_code=0,
        result_desc=stk["ResultDesc"],
        amount=amount,
        receipt=receipt,
        transaction_date=moment.replace(tzinfo=NAIROBI),
        phone="254" + subscriber,
    )
    return raw, expected


@given(case=valid_success_callbacks())
def test_generated_success_callbacks_round_trip(case):
    raw, expected = case
    assert parse_stk_callback(raw) == expected


@given(
    code=st.integers(-(10**6), 10**6).filter(bool),
    as_string=st.booleans(),
    checkout_request_id=storable_text(min_size=1, max_size=30).filter(str.strip),
)
def test_generated_failure_callbacks_round_trip(code, as_string, checkout_request_id):
    parsed = parse(callback(str(code) if as_string else code, CheckoutRequestID=checkout_request_id))
    assert parsed.result_code == code
    assert parsed.checkout_request_id == checkout_request_id
    assert (parsed.amount, parsed.receipt, parsed.transaction_date, parsed.phone) == (None, None, None, None)


def test_deep_nesting_is_refused_even_with_a_raised_recursion_limit():
    import sys  # noqa: PLC0415

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1_000_000)  # as some libraries do; json's C parser would then overflow the C stack
    try:
        with pytest.raises(MalformedCallback, match="nested too deeply"):
            parse_stk_callback(b'{"Body": ' + b"[" * 500_000 + b"]" * 500_000 + b"}")
    finally:
        sys.setrecursionlimit(limit)


def test_brackets_inside_strings_do_not_count_as_nesting():
    body = b'{"Body": {"stkCallback": {"ResultDesc": "' + b"[{" * 100 + b'\\"", "ResultCode": 1032}}}'
    with pytest.raises(MalformedCallback) as caught:
        parse_stk_callback(body)
    assert "nested" not in str(caught.value)
