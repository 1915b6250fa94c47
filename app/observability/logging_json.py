"""JSON log lines with personal data and secrets redacted before anything is written."""

from __future__ import annotations

import json
import logging
import math
import re
import sys
import threading
from datetime import UTC, datetime
from typing import TextIO

from app.domain.phone import InvalidPhone, mask_msisdn, normalise_msisdn
from app.observability.request_context import request_id_var

REDACTED = "[REDACTED]"
_MIN_SECRET_LENGTH = 6
_MAX_NESTING = 20
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error")
# golive.access (app/http/middleware.py) is the access log: route template, status, duration, the client behind
# the proxies, request id. uvicorn's own line would be a second one per request, with the raw path.
_UVICORN_ACCESS = "uvicorn.access"

# Kenyan mobile numbers as people write them: 0712345678, 712345678, 254712345678, +254 712 345 678,
# (0712) 345-678. The lookarounds keep it out of longer numbers, words, hex ids, IP addresses and dates.
_PHONE_IN_TEXT = re.compile(
    r"""
    (?<![0-9A-Za-z+])(?<![0-9][.\-])
    (?:\(\+?254\)[ .\-]?|\+?254[ .\-]?|\(?0)?
    [71][0-9]{2}\)?[ .\-]?[0-9]{3}[ .\-]?[0-9]{3}
    (?![0-9A-Za-z])(?![.\-][0-9])
    """,
    re.VERBOSE,
)
_SENSITIVE_KEY = re.compile(
    r"password|secret|token|passkey|authorization|api[_-]?key|private[_-]?key|consumer[_-]?key",
    re.IGNORECASE,
)
# Everything a LogRecord carries by itself; what is left in record.__dict__ came from extra=.
# color_message is uvicorn's ANSI-coloured copy of msg.
_RECORD_ATTRIBUTES = frozenset(
    [
        *logging.LogRecord("", 0, "", 0, "", (), None).__dict__,
        "message",
        "asctime",
        "taskName",
        "color_message",
    ]
)
_OWN_FIELDS = frozenset({"ts", "level", "logger", "msg", "request_id", "exc", "stack"})


class _SecretRegistry:
    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        # Read without the lock: the pattern is replaced whole, never mutated.
        self.pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        with self._lock:
            if value in self._values:
                return
            self._values.add(value)
            # Longest first, so a secret that contains another is redacted whole.
            alternatives = sorted(self._values, key=len, reverse=True)
            self.pattern = re.compile("|".join(re.escape(secret) for secret in alternatives))


_registered_secrets = _SecretRegistry()


def register_secret(value: str) -> None:
    """Redact this exact value wherever it appears in a log line (values under 6 characters are ignored)."""
    if isinstance(value, str) and len(value) >= _MIN_SECRET_LENGTH:
        _registered_secrets.add(value)


def redact_text(text: str) -> str:
    """Registered secrets → [REDACTED]; Kenyan mobile numbers → 254712***678."""
    secrets_pattern = _registered_secrets.pattern
    if secrets_pattern is not None:
        text = secrets_pattern.sub(REDACTED, text)
    return _PHONE_IN_TEXT.sub(_masked_phone, text)


def _masked_phone(match: re.Match[str]) -> str:
    try:
        return mask_msisdn(normalise_msisdn(match.group()))
    except InvalidPhone:
        return "*" * len(match.group())


def _is_sensitive_key(key: str) -> bool:
    return _SENSITIVE_KEY.search(key) is not None


def redact_value(value: object) -> object:
    """A JSON-serialisable copy of value (nested dicts and lists too) redacted as log lines are: sensitive keys,
    registered secrets, phone numbers."""
    return _redacted(value)


def _redacted(value: object, depth: int = 0) -> object:
    """A JSON-serialisable copy of value with sensitive keys, secrets and phone numbers redacted."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, int):
        # Daraja sends PhoneNumber as a JSON number; a 13-digit bound keeps str() cheap and safe.
        if 0 < value < 10**13 and (text := str(value)) != (masked := redact_text(text)):
            return masked
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth >= _MAX_NESTING:
        return f"{REDACTED} (nested too deeply)"
    if isinstance(value, dict):
        return {
            redact_text(str(key)): REDACTED if _is_sensitive_key(str(key)) else _redacted(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_redacted(item, depth + 1) for item in value]
    return redact_text(str(value))


def _timestamp(created: float) -> str:
    return datetime.fromtimestamp(created, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, request_id, extra= fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        try:
            return json.dumps(self._entry(record), ensure_ascii=False, default=str)
        except Exception as exc:
            # A broken record (bad % args, a __str__ that raises) must still give one parseable line,
            # and not logging's fallback traceback, which prints the raw arguments unredacted.
            return json.dumps(
                {
                    "ts": _timestamp(record.created),
                    "level": record.levelname,
                    "logger": record.name,
                    "msg": "log record could not be formatted",
                    "format_error": type(exc).__name__,
                }
            )

    def _entry(self, record: logging.LogRecord) -> dict[str, object]:
        entry: dict[str, object] = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact_text(record.getMessage()),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            entry["request_id"] = redact_text(request_id)
        for key, value in record.__dict__.items():
            if key in _RECORD_ATTRIBUTES:
                continue
            name = f"extra_{key}" if key in _OWN_FIELDS else key
            entry[name] = REDACTED if _is_sensitive_key(key) else _redacted(value)
        if record.exc_info:
            # exc_info=True outside an except block gives (None, None, None): nothing to show.
            if record.exc_info[0] is not None:
                entry["exc"] = redact_text(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exc"] = redact_text(record.exc_text)
        if record.stack_info:
            entry["stack"] = redact_text(self.formatStack(record.stack_info))
        return entry


class _JsonStreamHandler(logging.StreamHandler):
    """Ours, so configure_logging can find and replace it."""


class _StderrHandler(_JsonStreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners and daemons swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """JSON lines on the root logger (stderr unless a stream is given); uvicorn's loggers go through it, but for
    its access log, which is silenced (uvicorn logs access lines only while that logger has a handler)."""
    numeric_level = logging.getLevelNamesMapping().get(level.upper()) if isinstance(level, str) else None
    if numeric_level is None:
        raise ValueError(f"unknown log level: {level!r}")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _JsonStreamHandler):
            root.removeHandler(handler)
    handler = _JsonStreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(numeric_level)
    for name in _UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    uvicorn_access = logging.getLogger(_UVICORN_ACCESS)
    uvicorn_access.handlers.clear()
    uvicorn_access.propagate = False
