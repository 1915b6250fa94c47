"""Requests the HTTP checks make of the service: the answer, or a CheckError naming what did not answer, with the
check's command (what a person runs to repeat it)."""

from __future__ import annotations

from typing import Any

import httpx

from checks.context import Context
from checks.model import CheckError
from foundation.admin_client import AdminKeyMissing, admin_key


def request(
    ctx: Context, method: str, path: str, *, command: str, base: str | None = None, **kwargs: Any
) -> httpx.Response:
    try:
        with ctx.http(base) as client:
            return client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        where = f"{method} {base or ctx.entry}{path}"
        raise CheckError(f"{where} got no answer ({type(exc).__name__}: {exc})", command=command) from exc


def admin_headers(ctx: Context, command: str) -> dict[str, str]:
    """The release tooling's admin key, as the admin API wants it."""
    if ctx.db_url is None:
        raise CheckError("no database to find the release tooling's admin key", command=command)
    try:
        return {"x-api-key": admin_key(ctx.env, ctx.db_url, ctx.state)}
    except AdminKeyMissing as exc:
        raise CheckError(str(exc), command=command) from exc
