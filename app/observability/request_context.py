"""The current request's id, shared by the middleware that sets it and the log formatter that reads it."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Short enough for a log line, and nothing that could break a header, a log parser or a shell.
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(header_value: str | None) -> str:
    """The client's X-Request-ID when it is safe to reuse, else a fresh id."""
    if isinstance(header_value, str) and _CLIENT_REQUEST_ID.fullmatch(header_value):
        return header_value
    return new_request_id()
