import io
import json
import logging
import re
import uuid
from contextvars import copy_context
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.observability.logging_json import JsonFormatter, configure_logging, redact_text, register_secret
from app.observability.request_context import accept_request_id, new_request_id, request_id_var

UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


@pytest.fixture
def restore_logging():
    """configure_logging changes process-wide state: put it back after each test."""
    root = logging.getLogger()
    saved_root = (root.handlers[:], root.level)
    saved_uvicorn = {
        name: (logging.getLogger(name).handlers[:], logging.getLogger(name).propagate) for name in UVICORN_LOGGERS
    }
    yield
    root.handlers[:], root.level = saved_root
    for name, (handlers, propagate) in saved_uvicorn.items():
        logging.getLogger(name).handlers[:] = handlers
        logging.getLogger(name).propagate = propagate


@pytest.fixture
def output(restore_logging):
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    return stream


@pytest.fixture
def log():
    return logging.getLogger("golive.test")


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def only_line(stream: io.StringIO) -> dict:
    (entry,) = lines(stream)
    return entry


# The line's shape ------------------------------------------------------------------------------------


def test_each_record_is_one_json_object_per_line(output, log):
    log.info("first %s", "message")
    log.warning("second\nwith a newline")
    first, second = lines(output)
    assert first["msg"] == "first message"
    assert first["level"] == "INFO"
    assert first["logger"] == "golive.test"
    assert second["msg"] == "second\nwith a newline"
    assert second["level"] == "WARNING"


def test_timestamp_is_iso_8601_utc_with_milliseconds(output, log):
    log.info("x")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", only_line(output)["ts"])


def test_request_id_comes_from_the_context_variable(output, log):
    token = request_id_var.set("req-12345678")
    try:
        log.info("inside")
    finally:
        request_id_var.reset(token)
    log.info("outside")
    inside, outside = lines(output)
    assert inside["request_id"] == "req-12345678"
    assert "request_id" not in outside


def test_extra_fields_are_included(output, log):
    log.info("paid", extra={"payment_id": "p-1", "amount_kes": 100, "tags": ["a", "b"], "meta": {"n": 1.5}})
    entry = only_line(output)
    assert entry["payment_id"] == "p-1"
    assert entry["amount_kes"] == 100
    assert entry["tags"] == ["a", "b"]
    assert entry["meta"] == {"n": 1.5}


def test_extra_values_that_json_cannot_hold_are_written_with_str(output, log):
    class Opaque:
        def __str__(self):
            return "opaque-value"

    log.info("x", extra={"amount": Decimal("1.00"), "thing": Opaque(), "ratio": float("nan"), "ids": {3}})
    entry = only_line(output)
    assert entry["amount"] == "1.00"
    assert entry["thing"] == "opaque-value"
    assert entry["ratio"] == "nan"
    assert entry["ids"] == [3]


def test_a_self_referencing_extra_value_still_gives_a_line(output, log):
    loop: list = []
    loop.append(loop)
    log.info("kept", extra={"loop": loop})
    entry = only_line(output)
    assert entry["msg"] == "kept"
    assert "nested too deeply" in json.dumps(entry["loop"])


def test_extra_fields_cannot_overwrite_the_line_own_fields(output, log):
    log.info("real message", extra={"level": "fake", "logger": "fake"})
    entry = only_line(output)
    assert (entry["level"], entry["logger"]) == ("INFO", "golive.test")
    assert (entry["extra_level"], entry["extra_logger"]) == ("fake", "fake")


def test_traceback_is_included_when_there_is_an_exception(output, log):
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed")
    entry = only_line(output)
    assert entry["msg"] == "failed"
    assert "Traceback" in entry["exc"]
    assert "RuntimeError: boom" in entry["exc"]


def test_no_exc_field_without_an_exception(output, log):
    log.info("fine", exc_info=True)
    assert "exc" not in only_line(output)


def test_traceback_text_from_a_record_without_exc_info_is_redacted_too():
    record = logging.LogRecord("golive.test", logging.ERROR, __file__, 1, "relayed", (), None)
    record.exc_text = "Traceback (most recent call last):\nValueError: bad 0712345678"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["exc"] == "Traceback (most recent call last):\nValueError: bad 254712***678"


def test_a_record_that_cannot_be_formatted_still_gives_one_line_without_its_arguments():
    # Formatted directly: pytest's own capture handler would fail the test on the bad arguments first.
    record = logging.LogRecord("golive.test", logging.INFO, __file__, 1, "%d payments", ("0712345678",), None)
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["msg"] == "log record could not be formatted"
    assert entry["format_error"] == "TypeError"
    assert entry["level"] == "INFO"
    assert "0712345678" not in line


# Redaction -------------------------------------------------------------------------------------------

PHONE_FORMS = ["254708374149", "+254 712 345 678", "0712345678", "(0712) 345-678", "712345678", "0112-345-678"]
MASKED_FORMS = ["254708***149", "254712***678", "254712***678", "254712***678", "254712***678", "254112***678"]


@pytest.mark.parametrize(("phone", "masked"), list(zip(PHONE_FORMS, MASKED_FORMS, strict=True)))
def test_phone_numbers_in_the_message_are_masked(output, log, phone, masked):
    log.info("STK push to %s accepted", phone)
    entry = only_line(output)
    assert entry["msg"] == f"STK push to {masked} accepted"
    assert phone not in output.getvalue()


def test_phone_numbers_in_extra_fields_are_masked_at_any_depth(output, log):
    log.info(
        "callback",
        extra={
            "phone": "0712345678",
            "callback": {"Item": [{"Name": "PhoneNumber", "Value": 254708374149}], "note": "from +254 722 000 111"},
            "many": ("0712345678 and 0733444555",),
        },
    )
    text = output.getvalue()
    for clear in ("0712345678", "254708374149", "722 000 111", "0733444555"):
        assert clear not in text
    entry = only_line(output)
    assert entry["phone"] == "254712***678"
    assert entry["callback"]["Item"][0]["Value"] == "254708***149"
    assert entry["callback"]["note"] == "from 254722***111"
    assert entry["many"] == ["254712***678 and 254733***555"]


def test_phone_numbers_in_the_traceback_are_masked(output, log):
    try:
        raise ValueError("no account for 0712345678")
    except ValueError:
        log.exception("lookup failed")
    entry = only_line(output)
    assert "0712345678" not in output.getvalue()
    assert "no account for 254712***678" in entry["exc"]


@pytest.mark.parametrize(
    "key",
    [
        "password", "db_password", "client_secret", "access_token", "Authorization", "passkey",
        "DARAJA_PASSKEY", "api_key", "X-Api-Key", "apikey", "private_key", "signerPrivateKey",
        "consumer_key", "consumerKey",
    ],
)  # fmt: skip
def test_values_of_sensitive_keys_are_redacted(output, log, key):
    log.info("config", extra={key: "value-that-must-not-appear", "nested": {key: {"deep": "also-hidden"}}})
    entry = only_line(output)
    assert entry[key] == "[REDACTED]"
    assert entry["nested"][key] == "[REDACTED]"
    assert "value-that-must-not-appear" not in output.getvalue()
    assert "also-hidden" not in output.getvalue()


def test_keys_that_only_look_similar_are_kept(output, log):
    log.info("x", extra={"pass_count": 3, "key_id": "k1", "author": "a"})
    entry = only_line(output)
    assert (entry["pass_count"], entry["key_id"], entry["author"]) == (3, "k1", "a")


def test_registered_secrets_are_redacted_everywhere(output, log):
    secret = "s3cr3t-" + uuid.uuid4().hex
    register_secret(secret)
    try:
        raise PermissionError(f"auth failed with {secret}")
    except PermissionError:
        log.exception("token %s refused", secret, extra={"header": f"Bearer {secret}", "list": [secret]})
    entry = only_line(output)
    assert secret not in output.getvalue()
    assert entry["msg"] == "token [REDACTED] refused"
    assert entry["header"] == "Bearer [REDACTED]"
    assert entry["list"] == ["[REDACTED]"]
    assert "auth failed with [REDACTED]" in entry["exc"]


def test_a_secret_that_starts_with_another_is_redacted_whole():
    inner = "inner-" + uuid.uuid4().hex[:8]
    outer = f"{inner}-suffix"
    register_secret(inner)
    register_secret(outer)
    assert redact_text(f"[{outer}]") == "[[REDACTED]]"


@pytest.mark.parametrize("value", ["", "abc", "12345"])
def test_short_secrets_are_not_registered(value):
    register_secret(value)
    assert redact_text(f"x{value}y 2024 abc 12345") == f"x{value}y 2024 abc 12345"


@pytest.mark.parametrize(
    "text",
    [
        "callback from 196.201.214.200 and 172.16.100.200",
        "at 2019-12-19 10:21:15 stamp 20191219102115",
        "CheckoutRequestID ws_CO_191220191020363925 MerchantRequestID 29115-34620561-1",
        "receipt NLJ7RT61SV request 3f2a0712345678abcdef0123456789ab",
        "tx 0x0712345678ab took 0.712345678s",
        "ratio 1.712345678, order-2024-712345678",
        "Amount 1.00 of 250000, 2540712345678 is not a Kenyan mobile, nor +255712345678",
    ],
)
def test_text_without_kenyan_mobile_numbers_is_untouched(text):
    assert redact_text(text) == text


@given(
    subscriber=st.from_regex(r"[71][0-9]{8}", fullmatch=True),
    template=st.sampled_from(["{}", "0{}", "254{}", "+254{}", "+254 {a} {b} {c}", "0{a}-{b}-{c}", "(0{a}) {b} {c}"]),
    before=st.sampled_from(["", "to ", "phone=", "(", '"', "\n"]),
    after=st.sampled_from(["", " ok", "&x=1", ")", '"', ".", ","]),
)
def test_any_kenyan_mobile_number_in_text_is_masked(subscriber, template, before, after):
    a, b, c = subscriber[:3], subscriber[3:6], subscriber[6:]
    written = template.format(subscriber, a=a, b=b, c=c)
    redacted = redact_text(before + written + after)
    assert subscriber not in redacted.replace(" ", "").replace("-", "")
    assert f"254{subscriber[:3]}***{subscriber[6:]}" in redacted


# configure_logging -----------------------------------------------------------------------------------


def json_handlers() -> list[logging.Handler]:
    return [handler for handler in logging.getLogger().handlers if isinstance(handler.formatter, JsonFormatter)]


def test_configuring_twice_leaves_one_handler(restore_logging, log):
    first, second = io.StringIO(), io.StringIO()
    configure_logging(stream=first)
    configure_logging(stream=second)
    assert len(json_handlers()) == 1
    log.warning("once")
    assert first.getvalue() == ""
    assert only_line(second)["msg"] == "once"


def test_level_filters_records(restore_logging, log):
    stream = io.StringIO()
    configure_logging("warning", stream=stream)
    log.info("dropped")
    log.error("kept")
    assert [entry["msg"] for entry in lines(stream)] == ["kept"]


@pytest.mark.parametrize("level", ["LOUD", "", "info "])
def test_unknown_level_is_refused(restore_logging, level):
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging(level, stream=io.StringIO())


def test_uvicorn_loggers_go_through_the_json_formatter_but_its_access_log_is_silenced(restore_logging):
    plain = io.StringIO()
    for name in ("uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).addHandler(logging.StreamHandler(plain))
        logging.getLogger(name).propagate = False
    stream = io.StringIO()
    configure_logging(stream=stream)
    access = logging.getLogger("uvicorn.access")
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/pay?phone=0712345678", "1.1", 200)
    logging.getLogger("uvicorn.error").info("Started on 0712345678", extra={"color_message": "\x1b[32mStarted"})
    assert plain.getvalue() == ""
    (error_entry,) = lines(stream)  # golive.access is the one access line per request (app/http/middleware.py)
    assert error_entry["logger"] == "uvicorn.error" and error_entry["msg"] == "Started on 254712***678"
    assert "color_message" not in error_entry
    assert not access.hasHandlers()  # what uvicorn asks before it writes an access line


# Request ids -----------------------------------------------------------------------------------------


def test_new_request_id_is_uuid4_hex():
    request_id = new_request_id()
    assert uuid.UUID(hex=request_id).version == 4
    assert request_id == uuid.UUID(hex=request_id).hex
    assert new_request_id() != request_id


@pytest.mark.parametrize("header", ["abcdefgh", "A" * 64, "req.2024-11-26_01", "0123456789abcdef0123456789abcdef"])
def test_client_request_id_is_reused_when_safe(header):
    assert accept_request_id(header) == header


@pytest.mark.parametrize(
    "header",
    [None, "", "short", "abcdefg", "A" * 65, "has space1", "abcdefgh\n", "slash/12345", "caf\u00e9-1234", "a;b=c;d=e"],
)
def test_client_request_id_is_replaced_when_unsafe(header):
    request_id = accept_request_id(header)
    assert request_id != header
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)


def test_request_id_var_is_unset_by_default_and_per_context():
    def set_in_context():
        request_id_var.set("inside-context")
        return request_id_var.get()

    assert copy_context().run(set_in_context) == "inside-context"
    assert request_id_var.get() is None
